"""Campaign email template renderer (Instantly-compatible personalization syntax).

Pure functions, no I/O. The sending engine compiles each sequence-step variant ONCE with
`compile_template` and renders it per outbox row with `Template.render`.

Syntax (see `compile_template` for the grammar):

* ``{{firstName}}`` -- a variable. Lead fields use Instantly's names (`firstName`, `lastName`,
  `companyName`, `email`, `website`, `phone`, `jobTitle`, `personalization`); any other name is
  looked up in the lead's custom variables (`payload`). Sender variables: `sendingAccountFirstName`,
  `sendingAccountLastName`, `sendingAccountEmail`, `accountSignature`. Time variables (computed
  from an injected ``now`` in the lead's/campaign's timezone): `time_of_day` (morning
  00-11 / afternoon 12-17 / evening 18-23, local time), `day_of_week` (Monday..Sunday),
  `current_date` (e.g. "November 26, 2026").
* ``{{firstName|there}}`` (spaces around ``|`` allowed) -- fallback used when the value is missing,
  None or blank. Without a fallback a missing value renders as the empty string.
* ``{{RANDOM | Hi | Hello | Hey}}`` -- spintax: one option is chosen per render (keyword is
  case-insensitive, whitespace around options is trimmed, options may contain variables and nested
  ``{{RANDOM|...}}``, an empty option is allowed).
* Variable names are matched case-insensitively (``{{FirstName}}`` == ``{{firstname}}``); context
  keys are case-folded by `RenderContext`.
* Anything else between ``{{ }}`` that is not a valid variable/RANDOM expression (e.g. ``{{ }}``,
  ``{{#if x}}``), an unclosed ``{{``, and single-brace text such as CSS ``{color: red}`` is left
  as-is, verbatim.

Randomness comes only from the injected `random.Random`; the engine seeds it per outbox row (e.g.
``random.Random(outbox_row_id)``) so a resend/preview of the same row renders identically.

With ``html=True`` inserted *values* are HTML-escaped (template text, fallbacks and RANDOM options
are author-written HTML and are not); `accountSignature` is treated as trusted HTML (inserted raw
into HTML, converted with `html_to_text` for subject/text parts).
"""

from __future__ import annotations

import html as _html
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

__all__ = [
    "RawHTML",
    "RenderContext",
    "Template",
    "build_context",
    "compile_template",
    "html_to_text",
    "render",
]

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_RANDOM_RE = re.compile(r"\s*random\s*\|", re.IGNORECASE)


class RawHTML(str):
    """A trusted HTML value (e.g. an account signature): not escaped in HTML parts, converted to
    plain text in subject/text parts."""

    __slots__ = ()


class RenderContext(dict[str, object]):
    """Variable values keyed by case-folded name. Build with `build_context` or `RenderContext.of`."""

    @classmethod
    def of(cls, values: Mapping[str, object]) -> RenderContext:
        return cls((str(k).casefold(), v) for k, v in values.items())


# --------------------------------------------------------------------------- compiled nodes


@dataclass(frozen=True, slots=True)
class _Var:
    key: str  # case-folded name
    fallback: str | None
    source: str  # original text, for debugging

    def render(self, ctx: Mapping[str, object], rng: random.Random, html: bool) -> str:
        value = ctx.get(self.key)
        if value is None or (text := str(value)).strip() == "":
            return self.fallback or ""
        if isinstance(value, RawHTML):
            return text if html else html_to_text(text)
        return _html.escape(text, quote=True) if html else text


@dataclass(frozen=True, slots=True)
class _Random:
    options: tuple[tuple[str | _Var | _Random, ...], ...]

    def render(self, ctx: Mapping[str, object], rng: random.Random, html: bool) -> str:
        parts = self.options[rng.randrange(len(self.options))]
        return _render_parts(parts, ctx, rng, html)


_Part = str | _Var | _Random


def _render_parts(parts: tuple[_Part, ...], ctx: Mapping[str, object], rng: random.Random, html: bool) -> str:
    out: list[str] = []
    append = out.append
    for part in parts:
        if part.__class__ is str:
            append(part)
        else:
            append(part.render(ctx, rng, html))  # type: ignore[union-attr]
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template. Immutable and thread-safe; share one per sequence-step variant."""

    source: str
    parts: tuple[_Part, ...]

    @property
    def is_static(self) -> bool:
        return all(p.__class__ is str for p in self.parts)

    def render(self, context: Mapping[str, object], rng: random.Random | None = None, *, html: bool = False) -> str:
        """Render with `context` (a `RenderContext`; any other mapping is case-folded first).

        `rng` defaults to ``random.Random(0)`` (deterministic); the engine passes one seeded per
        outbox row. ``html=True`` HTML-escapes inserted values."""
        ctx = context if isinstance(context, RenderContext) else RenderContext.of(context)
        return _render_parts(self.parts, ctx, rng if rng is not None else random.Random(0), html)


# --------------------------------------------------------------------------- parser


def _find_close(text: str, start: int) -> int:
    """Index of the ``}}`` closing the ``{{`` whose content starts at `start`, honoring nested
    ``{{ }}`` pairs; -1 if unclosed."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        j = text.find("}}", i)
        if j < 0:
            return -1
        k = text.find("{{", i, j)
        if k >= 0:
            depth += 1
            i = k + 2
            continue
        if depth == 0:
            return j
        depth -= 1
        i = j + 2
    return -1


def _split_top(inner: str) -> list[str]:
    """Split on ``|`` not inside nested ``{{ }}``."""
    out: list[str] = []
    depth = 0
    last = 0
    i = 0
    n = len(inner)
    while i < n:
        if inner.startswith("{{", i):
            depth += 1
            i += 2
        elif inner.startswith("}}", i) and depth:
            depth -= 1
            i += 2
        elif inner[i] == "|" and depth == 0:
            out.append(inner[last:i])
            i += 1
            last = i
        else:
            i += 1
    out.append(inner[last:])
    return out


def _compile_expr(inner: str, source: str) -> _Part | None:
    m = _RANDOM_RE.match(inner)
    if m:
        options = _split_top(inner[m.end() :])
        return _Random(tuple(_parse(opt.strip()) for opt in options))
    name, sep, fallback = inner.partition("|")
    name = name.strip()
    if not _NAME_RE.fullmatch(name) or "{{" in fallback:
        return None
    return _Var(name.casefold(), fallback.strip() if sep else None, source)


def _parse(text: str) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    literal: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        j = text.find("{{", i)
        if j < 0:
            literal.append(text[i:])
            break
        literal.append(text[i:j])
        close = _find_close(text, j + 2)
        if close < 0:
            literal.append(text[j:])
            break
        source = text[j : close + 2]
        node = _compile_expr(text[j + 2 : close], source)
        if node is None:
            literal.append(source)
        else:
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(node)
        i = close + 2
    if literal and (lit := "".join(literal)):
        parts.append(lit)
    return tuple(p for p in parts if p != "")


def compile_template(text: str) -> Template:
    """Parse `text` once into a reusable `Template`. Never raises: malformed tags stay literal."""
    return Template(text, _parse(text))


def render(text: str, context: Mapping[str, object], rng: random.Random | None = None, *, html: bool = False) -> str:
    """One-shot convenience (compiles every call -- the engine should cache `compile_template`)."""
    return compile_template(text).render(context, rng, html=html)


# --------------------------------------------------------------------------- context


_LEAD_FIELDS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "companyName": "company_name",
    "email": "email",
    "website": "website",
    "phone": "phone",
    "jobTitle": "job_title",
    "personalization": "personalization",
}
_ACCOUNT_FIELDS = {
    "sendingAccountFirstName": "first_name",
    "sendingAccountLastName": "last_name",
    "sendingAccountEmail": "email",
}
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _get(obj: Mapping[str, object], *keys: str) -> object:
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def build_context(
    lead: Mapping[str, object],
    account: Mapping[str, object] | None = None,
    *,
    now: datetime | None = None,
    timezone: str | None = None,
) -> RenderContext:
    """Build the render context for one message.

    `lead`: a lead row as a mapping; snake_case (`first_name`) or camelCase (`firstName`) keys;
    custom variables from ``lead["payload"]`` (or ``custom_variables``). Standard fields win over
    same-named custom variables unless the standard field is empty.
    `account`: the sending account (`first_name`, `last_name`, `email`, `signature`).
    `now` (aware datetime) + `timezone` (IANA name, e.g. the campaign schedule's) give the time
    variables; omitted -> time variables are missing.
    """
    values: dict[str, object] = {}
    for source_key in ("payload", "custom_variables"):
        custom = lead.get(source_key)
        if isinstance(custom, Mapping):
            values.update({str(k): v for k, v in custom.items()})
    for name, snake in _LEAD_FIELDS.items():
        value = _get(lead, snake, name)
        if value is not None and str(value).strip() != "":
            values[name] = value
    if account is not None:
        for name, snake in _ACCOUNT_FIELDS.items():
            value = _get(account, snake, name)
            if value is not None:
                values[name] = value
        signature = _get(account, "signature", "accountSignature")
        if signature is not None:
            values["accountSignature"] = RawHTML(str(signature))
    if now is not None:
        local = now.astimezone(ZoneInfo(timezone)) if timezone else now
        hour = local.hour
        values["time_of_day"] = "morning" if hour < 12 else "afternoon" if hour < 18 else "evening"
        values["day_of_week"] = _DAYS[local.weekday()]
        values["current_date"] = f"{local:%B} {local.day}, {local.year}"
    return RenderContext.of(values)


# --------------------------------------------------------------------------- html -> text

_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table", "pre"}
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCK_TAGS:
            self.out.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Plain-text alternative of an HTML body: ``<br>`` -> newline, block elements (p, div, li,
    headings...) -> paragraph breaks, other tags stripped, entities unescaped, whitespace tidied."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    lines = [line.strip(" \t") for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
