"""`reconcile`: ask Flux to reconcile a Kustomization now and wait until it is Ready.

"Trigger Flux reconciliation: `flux reconcile kustomization apps`" asks for exactly this,
and the command in backticks is never run as written: the request is the
`reconcile.fluxcd.io/requestedAt` annotation set through kubectl (`flux reconcile` when
it is installed), and the wait is bounded by `[cluster] rollout_timeout`
(`handlers/_flux.py`). Only under the configured kubectl context, like every cluster step.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
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
            r"(?:\s+--with-source|\s+(?:-n|--namespace)[= ]"
            r"(?P<namespace>[a-z0-9][a-z0-9-]*))*\s*`")
# the same command holding `--with-source`: its rule says `with_source=true`, so a plan
# shows the parameter as an annotation would write it, not the flag's text
_WITH_SOURCE = r"(?=[^`]*`[^`]*\s--with-source[\s`])"
_TRIGGER = r"(?:trigger )?(?:a )?flux reconcil(?:e|iation)\b[^`]*?:?\s*" + _COMMAND + r"\s*\.?$"
_RECONCILE = r"reconcile flux\b[^`]*?:?\s*" + _COMMAND + r"\s*\.?$"
_TRUE = MappingProxyType({"with_source": "true"})


class ReconcileSettings(NamedTuple):
    kustomization: str
    namespace: str
    with_source: bool


class ReconcileHandler:
    name = "reconcile"
    params = ("kustomization", "namespace", "with_source")
    rules = (
        DefaultRule("(?i)^" + _WITH_SOURCE + _TRIGGER, _TRUE),
        DefaultRule("(?i)^" + _WITH_SOURCE + _RECONCILE, _TRUE),
        DefaultRule("(?i)^" + _TRIGGER),
        DefaultRule("(?i)^" + _RECONCILE),
    )

    def settings(self, params: Mapping[str, str], ctx: Context) -> ReconcileSettings:
        reject_unknown(self.name, params, self.params)
        name = k8s_name(params.get("kustomization", ""), "kustomization")
        namespace = k8s_name(params.get("namespace") or "flux-system", "namespace")
        with_source = parse_bool(params.get("with_source", "false"), "with_source")
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
