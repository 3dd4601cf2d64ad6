"""MkDocs hooks for the documentation site (mkdocs.yml ``hooks:``).

- The command-line page gets every ``pdloss`` sub-command's ``--help`` text, generated from the
  parser at build time so that it cannot drift from the code.
- Docstrings use reST roles (``:func:`pdloss.functional.wasserstein_1d```), which Markdown shows
  verbatim; they become code spans that link to the API page where the object is documented
  (optional links: an object without a page stays plain code, never a broken link); the ``::``
  that introduces a reST literal block becomes a plain colon.
"""

from __future__ import annotations

import argparse
import html
import os
import re

CLI_MARKER = "<!-- pdloss-cli -->"
HELP_WIDTH = "80"  # argparse wraps to $COLUMNS; fixed so that the page does not depend on the terminal
LITERAL_MARK_RE = re.compile(r"::</p>")  # reST's "Example::" before a code block
ROLE_RE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):<code>(~?)([^<]+)</code>")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help_sections(parser: argparse.ArgumentParser, prog: str, level: int) -> list[str]:
    sections = []
    for name, sub in _subcommands(parser).items():
        sections.append(f"{'#' * level} `{prog} {name}`\n\n```text\n{sub.format_help().rstrip()}\n```\n")
        sections.extend(_help_sections(sub, f"{prog} {name}", min(level + 1, 4)))
    return sections


def cli_reference() -> str:
    """Markdown: ``pdloss --help`` and one section per sub-command (nested ones included)."""
    from pdloss.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        parser = build_parser()
        top = f"```text\n{parser.format_help().rstrip()}\n```\n"
        return "\n".join([top, *_help_sections(parser, "pdloss", 2)])
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def _role_to_ref(match: re.Match) -> str:
    short, target = match.group(1), html.unescape(match.group(2)).strip()
    target = target.rstrip("()")
    title = target.rsplit(".", 1)[-1] if short else target
    return f'<autoref optional identifier="{html.escape(target)}"><code>{html.escape(title)}</code></autoref>'


def on_page_markdown(markdown: str, page, config, files) -> str:
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown


def on_page_content(html_text: str, page, config, files) -> str:
    return LITERAL_MARK_RE.sub(":</p>", ROLE_RE.sub(_role_to_ref, html_text))
