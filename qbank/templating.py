"""One Jinja2 environment over templates/, shared by every writer.

Autoescape is on: bank text reaches templates only as HTML produced by the render step
(marked safe there) or as plain strings, which are escaped.

templates/ is meant to be edited, so a broken or foreign file there (a syntax error, a
variable this version does not provide, a binary file, a YAML table of the wrong shape, a
missing file) stops the build with one line naming the file and line, not a traceback.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import jinja2
import yaml
from markupsafe import Markup

from .model import CannotBuild, shown_path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def digests() -> dict[str, str]:
    """The SHA-256 of every file in templates/, by its path there ("anki/card.css"): what a
    build's outputs are keyed on (output.py) and the lock's template times are dated by."""
    return {path.relative_to(TEMPLATES).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(TEMPLATES.rglob("*")) if path.is_file()}


class TemplateError(CannotBuild):
    """A file in templates/ that cannot be used."""


def _fix_hint(path: Path) -> str:
    return f"fix it, or restore the original with 'git checkout -- {shown_path(path)}'"


def template_error(path: Path, line: int | None, problem: str) -> TemplateError:
    where = f"{shown_path(path)}:{line}" if line else shown_path(path)
    return TemplateError(f"{where}: {problem}; {_fix_hint(path)}")


class _Loader(jinja2.FileSystemLoader):
    def get_source(self, environment: jinja2.Environment, template: str):  # noqa: ANN201 - Jinja2's signature
        try:
            return super().get_source(environment, template)
        except UnicodeDecodeError as error:
            raise template_error(Path(self.searchpath[0]) / template, None,
                                 f"not a UTF-8 text file, as a template must be (byte {error.start})") from None


def environment() -> jinja2.Environment:
    """The environment over TEMPLATES, looked up at each call so that the folder can be
    swapped (tests build with a private copy of templates/)."""
    return _environment(TEMPLATES)


@cache
def _environment(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=_Loader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _template_line(error: BaseException) -> tuple[Path, int] | None:
    """The innermost template file and line a traceback passed through (Jinja2 rewrites its
    frames to point at the template's own lines)."""
    found = None
    traceback = error.__traceback__
    while traceback is not None:
        filename = Path(traceback.tb_frame.f_code.co_filename)
        if filename.is_relative_to(TEMPLATES):
            found = filename, traceback.tb_lineno
        traceback = traceback.tb_next
    return found


def _missing(path: Path) -> TemplateError:
    return TemplateError(f"{shown_path(path)}: the template is missing; restore it with "
                         f"'git checkout -- {shown_path(path)}'")


def _syntax_error(error: jinja2.TemplateSyntaxError, name: str) -> TemplateError:
    path = Path(error.filename) if error.filename else TEMPLATES / name
    return template_error(path, error.lineno, f"template syntax error: {(error.message or '').rstrip('.')}")


def render_template(name: str, **context: object) -> str:
    try:
        template = environment().get_template(name)
    except jinja2.TemplateNotFound:
        raise _missing(TEMPLATES / name) from None
    except jinja2.TemplateSyntaxError as error:
        raise _syntax_error(error, name) from None
    try:
        return template.render(**context)
    except CannotBuild:
        raise
    except jinja2.TemplateSyntaxError as error:  # in a template it includes
        raise _syntax_error(error, name) from None
    except Exception as error:
        # Raised in a template's own line (an undefined variable, a missing include, a wrong
        # filter): the template is at fault. Raised elsewhere: a bug of ours.
        place = _template_line(error)
        if place is None and not isinstance(error, jinja2.TemplateError):
            raise
        path, line = place or (TEMPLATES / name, None)
        if isinstance(error, jinja2.TemplateNotFound):
            message = f"includes {error.name}, which is not in {shown_path(TEMPLATES)}/"
        else:
            message = (str(error).splitlines() or [type(error).__name__])[0].rstrip(".")
        raise template_error(path, line, f"{message} (a template for another version of qbank?)") from None


def read_table(name: str) -> dict:
    """A YAML table in templates/ (labels.yaml, fonts.yaml), as a mapping."""
    path = TEMPLATES / name
    try:
        text = path.read_bytes().decode("utf-8")
        table = yaml.safe_load(text)
    except FileNotFoundError:
        raise TemplateError(f"{shown_path(path)}: the file is missing; restore it with "
                            f"'git checkout -- {shown_path(path)}'") from None
    except UnicodeDecodeError as error:
        raise template_error(path, None, f"not a UTF-8 text file (byte {error.start})") from None
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise template_error(path, line, f"not valid YAML ({error.problem})") from None
    except yaml.YAMLError as error:
        raise template_error(path, None, f"not valid YAML ({error})") from None
    if not isinstance(table, dict) or not all(isinstance(entry, (dict, list)) for entry in table.values()):
        raise template_error(path, 1, "expected a table of languages (zh: ..., en: ...)")
    return table


def for_language(table: dict[str, object], lang: str, default: str, name: str) -> object:
    """The entry of a per-language table in templates/ (`name`: labels.yaml, fonts.yaml) for a
    BCP 47 tag: the exact tag first (zh-TW may differ from zh), then the primary language, then `default`."""
    for key in (lang, lang.split("-")[0].lower(), default):
        if key in table:
            return table[key]
    raise template_error(TEMPLATES / name, None, f"it has no '{default}' entry, which every language falls back on")


def css_string(text: str) -> Markup:
    """`text` as a quoted CSS string, safe inside a stylesheet (no quote, backslash or tag escapes)."""
    escaped = "".join(ch if ch.isalnum() or ch in " -_.,:;!?/()[]{}%+=*#@&~^|'" or ord(ch) > 0x7F
                      else f"\\{ord(ch):x} " for ch in text)
    return Markup(f'"{escaped}"')
