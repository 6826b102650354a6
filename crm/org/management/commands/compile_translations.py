"""Compile the translation catalogs (.po -> .mo) with Babel, so that installing Qiao needs
no GNU gettext tools. Run during installation and after editing a catalog; .mo files are
build output and are not committed."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

_STRING = r'"(?:[^"\\]|\\.)*"'
_LINE = re.compile(rf"^(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+)?{_STRING}\s*$")


def _syntax_errors(text: str) -> list[str]:
    """Lines Babel's lenient reader would silently skip or misread (e.g. an unclosed quote)."""
    errors = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not _LINE.match(stripped):
            errors.append(f"line {number}: cannot parse {stripped[:60]!r}")
    return errors


def catalogs(roots) -> list[Path]:
    """Every <root>/<locale>/LC_MESSAGES/<domain>.po, in a stable order."""
    found: list[Path] = []
    for root in roots:
        found.extend(sorted(Path(root).glob("*/LC_MESSAGES/*.po")))
    return found


def compile_catalog(po_path: Path) -> tuple[Path, int, int, list[str]]:
    """Compile one catalog next to itself. Returns (mo path, translated, total, problems);
    raises ValueError with a readable reason when the file cannot be used."""
    locale = po_path.parent.parent.name
    try:
        errors = _syntax_errors(po_path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8: {exc.reason} at byte {exc.start}") from exc
    if errors:
        raise ValueError("invalid catalog syntax:\n  " + "\n  ".join(errors[:20]))
    try:
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale.replace("-", "_"), domain=po_path.stem,
                              abort_invalid=True)
    except PoFileError as exc:
        raise ValueError(f"invalid catalog syntax: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid {exc.encoding}: {exc.reason} at byte {exc.start}") from exc
    except Exception as exc:  # babel reports some malformed files with plain errors
        raise ValueError(f"cannot read the catalog: {exc.__class__.__name__}: {exc}") from exc

    problems = []
    for message, errors in catalog.check():  # e.g. %(name)s placeholders that do not match
        for error in errors:
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            where = f"line {message.lineno}" if message.lineno else "?"
            problems.append(f"{where}: {msgid!r}: {error}")
    if problems:
        raise ValueError("translations do not match their source strings:\n  "
                         + "\n  ".join(problems))

    messages = [m for m in catalog if m.id]
    translated = [m for m in messages if not m.fuzzy and (
        all(m.string) if isinstance(m.string, (list, tuple)) else m.string)]
    notes = []
    fuzzy = [m for m in messages if m.fuzzy]
    if fuzzy:
        notes.append(f"{len(fuzzy)} fuzzy (left out)")
    untranslated = len(messages) - len(translated) - len(fuzzy)
    if untranslated:
        notes.append(f"{untranslated} untranslated")

    mo_path = po_path.with_suffix(".mo")
    # Write to a temporary file and move it into place: a running process that loads the
    # catalog never sees half a file.
    fd, tmp = tempfile.mkstemp(prefix=f".{mo_path.name}.", dir=mo_path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, mo_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return mo_path, len(translated), len(messages), notes


class Command(BaseCommand):
    help = ("Compile every locale/<lang>/LC_MESSAGES/*.po into .mo with Babel "
            "(no GNU gettext needed). Needs no database.")

    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--locale", "-l", action="append", default=[],
                            help="compile only this language (repeatable), e.g. -l en")

    def handle(self, *args, **options):
        roots = [Path(p) for p in settings.LOCALE_PATHS]
        found = catalogs(roots)
        if options["locale"]:
            wanted = set(options["locale"])
            found = [p for p in found if p.parent.parent.name in wanted]
        if not found:
            raise CommandError("No .po catalogs found under "
                               + ", ".join(str(r) for r in roots)
                               + (f" for {', '.join(options['locale'])}" if options["locale"] else ""))

        failed = []
        for po in found:
            try:
                mo, done, total, notes = compile_catalog(po)
            except ValueError as exc:
                failed.append(po)
                self.stderr.write(self.style.ERROR(f"{self._rel(po)}: {exc}"))
                continue
            extra = f" ({'; '.join(notes)})" if notes else ""
            self.stdout.write(f"compiled {self._rel(po)} -> {mo.name}: "
                              f"{done}/{total} messages translated{extra}")
        if failed:
            raise CommandError(f"{len(failed)} catalog(s) could not be compiled: "
                               + ", ".join(self._rel(p) for p in failed))
        self.stdout.write(self.style.SUCCESS(f"{len(found)} catalog(s) compiled."))

    @staticmethod
    def _rel(path: Path) -> str:
        try:
            return str(path.relative_to(settings.BASE_DIR))
        except (ValueError, AttributeError):
            return str(path)
