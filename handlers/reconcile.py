"""`reconcile`: ask Flux to reconcile a Kustomization now and wait until it is Ready.

"Trigger Flux reconciliation: `flux reconcile kustomization apps`" asks for exactly this,
and the command in backticks is never run as written: the request is the
`reconcile.fluxcd.io/requestedAt` annotation set through kubectl (`flux reconcile` when
it is installed), and the wait is bounded by `[cluster] rollout_timeout`
(`handlers/_flux.py`). Only under the configured kubectl context, like every cluster step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from bot.api import (
    Cluster,
    Context,
    DefaultRule,
    Handler,
    Outcome,
    Status,
    Step,
    parse_bool,
    reject_unknown,
)
from handlers._flux import Target, reconcile, request_argv, state_argv
from handlers._kube import check_context, k8s_name

# a `flux reconcile kustomization` command in backticks: its name, `--with-source`, `-n NS`
_COMMAND = (r"`\s*flux reconcile (?:kustomization|ks) (?P<kustomization>[a-z0-9][a-z0-9.-]*)"
            r"(?:\s+(?P<with_source>--with-source)|\s+(?:-n|--namespace)[= ]"
            r"(?P<namespace>[a-z0-9][a-z0-9-]*))*\s*`")


class ReconcileSettings(NamedTuple):
    kustomization: str
    namespace: str
    with_source: bool


class ReconcileHandler:
    name = "reconcile"
    params = ("kustomization", "namespace", "with_source")
    rules = (
        DefaultRule(r"(?i)^(?:trigger )?(?:a )?flux reconcil(?:e|iation)\b[^`]*?:?\s*" + _COMMAND
                    + r"\s*\.?$"),
        DefaultRule(r"(?i)^reconcile flux\b[^`]*?:?\s*" + _COMMAND + r"\s*\.?$"),
    )

    def settings(self, params: Mapping[str, str], ctx: Context) -> ReconcileSettings:
        reject_unknown(self.name, params, self.params)
        name = k8s_name(params.get("kustomization", ""), "kustomization")
        namespace = k8s_name(params.get("namespace") or "flux-system", "namespace")
        # the rule's group holds the flag itself; an annotation says true or false
        raw = params.get("with_source", "false")
        with_source = raw == "--with-source" or parse_bool(raw, "with_source")
        return ReconcileSettings(name, namespace, with_source)

    def plan(self, s: ReconcileSettings, ctx: Context) -> Step:
        cluster = ctx.config.cluster or Cluster()
        target = _target(s)
        source = ("its source (spec.sourceRef) asked to reconcile first",) if s.with_source else ()
        return Step(commands=(request_argv(cluster, target, "<now>"), state_argv(cluster, target)),
                    preconditions=("[cluster] configured and kubectl context matches", *source),
                    then=(f"wait up to {int(cluster.rollout_timeout)}s for Kustomization "
                          f"{s.namespace}/{s.kustomization} Ready for this request",))

    def run(self, s: ReconcileSettings, ctx: Context) -> Outcome:
        record, why = check_context(ctx)
        commands = (record,) if record else ()
        if why:
            return Outcome(Status.BLOCKED, why, commands=commands)
        records, state = reconcile(ctx, _target(s))
        commands = (*commands, *records)
        if state.ready:
            return Outcome(Status.DONE, commands=commands, evidence=(state.text,),
                           summary=f"reconciled: {state.text}")
        reason = state.text if state.failed else (
            f"{state.text}; not reconciled within {int(_timeout(ctx))}s")
        return Outcome(Status.FAILED, reason, commands=commands, evidence=(state.text,))


def _target(s: ReconcileSettings) -> Target:
    return Target(s.kustomization, s.namespace, s.with_source)


def _timeout(ctx: Context) -> float:
    return (ctx.config.cluster or Cluster()).rollout_timeout


HANDLER: Handler[ReconcileSettings] = ReconcileHandler()
