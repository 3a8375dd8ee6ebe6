"""The Model Context Protocol side of `taskbot mcp`: tools listed with their input and output
schemas, calls answered over stdio with the official SDK's low-level server.

What a tool does is not here: the caller hands `serve` the tools (`specs.Spec`) and one
function that answers a call by name. Contract of a call:
- its arguments are checked against the tool's input schema first: a bad argument is a
  tool error naming it, and the call is not made;
- a `TaskbotError` becomes a tool error whose text is taskbot's one-line message (as the
  command line prints it, without `taskbot: `), any other exception an internal error;
- a document becomes `structuredContent` and, for clients that read only text, the same
  JSON as text (the Markdown report too, when the answer has one);
- every string of an answer or an error goes through `redact` first: a secret that reached a
  plan, a title or a message (a task file quoting it) does not reach the agent;
- calls run in a worker thread, so that the server keeps answering (pings, a cancel)
  while a run goes on; calls that write (`Spec.writes`) run one at a time, what they then
  wait for (`Answer.later`) side by side.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
import mcp_types as types
from anyio import to_thread
from jsonschema import Draft202012Validator
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from bot.agent.specs import Answer, Spec
from bot.errors import TaskbotError
from bot.text.textcap import cap

__all__ = ["Call", "serve"]


Call = Callable[[str, Mapping[str, Any]], Answer]  # (tool name, checked arguments) → answer
Redact = Callable[[str], str]
ARGUMENT_CAP = 400  # bytes of a schema problem, which quotes the argument it refuses


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def _redacted(value: Any, redact: Redact) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, redact) for item in value]
    return value


def _result(answer: Answer, redact: Redact) -> types.CallToolResult:
    doc = _redacted(answer.doc, redact)
    content: list[types.ContentBlock] = [
        types.TextContent(text=json.dumps(doc, ensure_ascii=False))]
    if answer.markdown:
        content.append(types.TextContent(text=redact(answer.markdown)))
    return types.CallToolResult(content=content, structured_content=doc)


def _argument_problem(validator: Draft202012Validator, arguments: Mapping[str, Any]) -> str:
    """'' when the arguments fit the input schema, else the first problem in one line."""
    for problem in sorted(validator.iter_errors(dict(arguments)), key=str):
        where = ".".join(str(p) for p in problem.absolute_path)
        said = cap(problem.message, ARGUMENT_CAP)  # it quotes the value: a long one is cut
        return f"argument {where}: {said}" if where else said
    return ""


class _Tools:
    """The listed tools and how a call of one is answered."""

    def __init__(self, specs: Sequence[Spec], call: Call, refused: Mapping[str, str],
                 redact: Redact) -> None:
        self.specs = {s.name: s for s in specs}
        self.validators = {s.name: Draft202012Validator(s.input_schema) for s in specs}
        self.call = call
        self.refused = refused  # tool name → why this server does not offer it
        self.writing = anyio.Lock()
        self.redact = redact

    async def list_tools(self, ctx: ServerRequestContext[Any],
                         params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=s.name, title=s.title, description=s.description,
                       input_schema=s.input_schema, output_schema=s.output_schema,
                       annotations=types.ToolAnnotations(read_only_hint=not s.writes,
                                                         destructive_hint=False))
            for s in self.specs.values()])

    async def call_tool(self, ctx: ServerRequestContext[Any],
                        params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = self.specs.get(params.name)
        if spec is None:
            return _error(self.refused.get(params.name) or f"no tool {params.name!r}")
        arguments = params.arguments or {}
        problem = _argument_problem(self.validators[spec.name], arguments)
        if problem:
            return _error(f"{spec.name}: {problem}")
        try:
            if spec.writes:
                async with self.writing:
                    answer = await to_thread.run_sync(self.call, spec.name, arguments)
            else:
                answer = await to_thread.run_sync(self.call, spec.name, arguments)
            if answer.later is not None:  # a wait: the next write need not wait for it
                answer = await to_thread.run_sync(answer.later)
        except TaskbotError as exc:
            return _error(self.redact(str(exc)))
        except Exception as exc:
            said = self.redact(f"internal error: {type(exc).__name__}: {exc}")
            print(f"taskbot: mcp: {spec.name}: {said}", file=sys.stderr)
            return _error(said)
        return _result(answer, self.redact)


def serve(specs: Sequence[Spec], call: Call, refused: Mapping[str, str], *, version: str,
          instructions: str, redact: Redact = str) -> None:
    """Answer MCP on stdin/stdout until the client closes stdin. `refused`: tools this
    server does not offer, and the error a call of one gets."""
    tools = _Tools(specs, call, refused, redact)
    server: Server[Any] = Server("taskbot", version=version, instructions=instructions,
                                 on_list_tools=tools.list_tools, on_call_tool=tools.call_tool)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)
