"""The command-line reference page (docs/reference/cli.md), generated from the argparse parser.

The page runs `print(render())` while the site builds, so the reference cannot drift from
`tk_core.cli.build_parser`: a new subcommand or option shows up on the next build, with its
help text, default and metavar.  Run ``python -m tk_core.cli_reference`` to see the markdown.
"""

from __future__ import annotations

import argparse

from .cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, build_parser

USAGE_WIDTH = 90


def render(parser: argparse.ArgumentParser | None = None) -> str:
    """The markdown reference of `parser` (default: the `timekeepers` command)."""
    parser = parser or build_parser()
    parts = [_usage(parser), parser.description or ""]
    for name, sub in subcommands(parser).items():
        parts += [f"## `{parser.prog} {name}`", _help_of(parser, name), _usage(sub)]
        parts.append(_table(sub))
    parts += ["## Exit codes", _exit_codes()]
    return "\n\n".join(p for p in parts if p) + "\n"


def _exit_codes() -> str:
    return "\n".join([
        "| code | meaning |", "|---:|---|",
        f"| {EXIT_OK} | success |",
        f"| {EXIT_FAILED} | the run failed: an event the engine refused, an early timer, a "
        "failed check |",
        f"| {EXIT_BAD_INPUT} | bad input: arguments, a missing or invalid scenario or leap file; "
        "a clear message, never a traceback |",
    ])


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subparsers of `parser` by name, in the order they were added."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _help_of(parser: argparse.ArgumentParser, name: str) -> str:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.dest == name and choice.help:
                    return _sentence(choice.help)
    return ""


def _usage(parser: argparse.ArgumentParser) -> str:
    """The usage line at a fixed width, so the page does not depend on the terminal."""
    formatter = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, "")
    return f"```text\n{formatter.format_help().strip()}\n```"


def _table(parser: argparse.ArgumentParser) -> str:
    rows = ["| argument | meaning | default |", "|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        rows.append(f"| {_names(action)} | {_cell(_meaning(parser, action))} "
                    f"| {_default(action)} |")
    return "\n".join(rows)


def _names(action: argparse.Action) -> str:
    if not action.option_strings:
        name = action.metavar or action.dest
        more = " …" if action.nargs in ("+", "*") else ""
        optional = " (optional)" if action.nargs in ("?", "*") else ""
        return f"`{name}{more}`{optional}"
    takes = action.nargs != 0
    metavar = action.metavar or action.dest.upper()
    return ", ".join(f"`{opt} {metavar}`" if takes else f"`{opt}`"
                     for opt in action.option_strings)


def _meaning(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = _sentence(action.help or "")
    if isinstance(action, argparse._AppendAction):
        text += "" if "repeatable" in text.lower() else " Repeatable."
    for group in parser._mutually_exclusive_groups:
        if action in group._group_actions:
            others = [o for a in group._group_actions if a is not action
                      for o in a.option_strings[:1]]
            text += " Not with " + ", ".join(f"`{o}`" for o in others) + "."
    return text


def _default(action: argparse.Action) -> str:
    default = action.default
    if default is None or default is False or default == [] or not action.option_strings:
        return ""
    return f"`{default}`"


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".") if text else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    print(render(), end="")
