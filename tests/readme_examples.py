"""The README's examples as data: every python, bash and console block, with the marker
written on the line before it (``<!-- example: run -->``, ``<!-- example: run slow -->``,
``<!-- example: skip: REASON -->``; ``continues`` runs the previous python block first).
A block without a marker is an error: a new example is run or says why it is not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
LANGUAGES = ("python", "bash", "console")
MARKER = re.compile(r"<!--\s*example:\s*(run(?:\s+slow)?(?:\s+continues)?|skip:\s*(.+?))\s*-->")
NOT_RUN_HERE = ("pip ", "python3 -m venv", "scp ")
"""Lines of bash blocks that set up a machine (installs, copies to another one): the test
environment already is that machine."""


@dataclass(frozen=True)
class Example:
    line: int
    language: str
    code: str
    marker: str | None
    """run, run slow, run continues, or None when skipped."""
    skip_reason: str | None

    @property
    def name(self) -> str:
        return f"README.md:{self.line} ({self.language})"

    @property
    def slow(self) -> bool:
        return self.marker is not None and "slow" in self.marker

    @property
    def continues(self) -> bool:
        return self.marker is not None and "continues" in self.marker

    def extras(self) -> list[str]:
        """The edgeir extras the block's own ``pip install`` lines ask for."""
        found: list[str] = []
        for group in re.findall(r'pip install[^\n]*?-e\s+"?\.\[([\w,-]+)\]', self.code):
            found += [e for e in group.split(",") if e not in found]
        return found

    def commands(self) -> list[str]:
        """The shell commands of a bash or console block (continuation lines joined)."""
        text = self.code.replace("\\\n", " ")
        lines = []
        for raw in text.splitlines():
            line = raw.strip()
            if self.language == "console":
                if not line.startswith("$ "):
                    continue  # output shown in the README, not a command
                line = line[2:]
            if not line or line.startswith("#") or line.startswith(NOT_RUN_HERE):
                continue
            lines.append(line)
        return lines


def examples(text: str | None = None) -> list[Example]:
    lines = (README.read_text() if text is None else text).splitlines()
    found, i = [], 0
    while i < len(lines):
        fence = re.fullmatch(r"```(\w*)\s*", lines[i])
        if not fence:
            i += 1
            continue
        start, language = i, fence.group(1)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        if language in LANGUAGES:
            comments, j = [], start - 1
            while j >= 0 and lines[j].strip().startswith("<!--"):
                comments.append(lines[j])
                j -= 1
            match = next((m for m in map(MARKER.search, comments) if m), None)
            marker = skip = None
            if match is None:
                raise ValueError(f"README.md:{start + 1}: a {language} block without an <!-- example: ... --> marker")
            if match.group(2):
                skip = match.group(2)
            else:
                marker = match.group(1)
            found.append(Example(start + 1, language, "\n".join(lines[start + 1:end]), marker, skip))
        i = end + 1
    return found
