"""Campaign email template renderer (Instantly's personalization syntax).

Pure functions, no I/O. The sending engine compiles each sequence-step variant ONCE with
`compile_template` and renders it per outbox row with `Template.render` (10,000 renders of a 2 KB
template with variables, fallbacks and spintax take about 0.23 s on one core).

Syntax (the README's "Template syntax" table lists it with sources):

* ``{{firstName}}`` -- a variable. Lead fields use Instantly's names (`firstName`, `lastName`,
  `companyName`, `email`, `website`, `phone`, `jobTitle`, `personalization`); any other name is
  looked up in the lead's custom variables (`payload`). Sender variables: `sendingAccountFirstName`,
  `sendingAccountLastName`, `sendingAccountEmail`, `sendingAccountName` (first + last name),
  `accountSignature` (trusted HTML). `{{unsubscribeLink}}` / `{{unsubscribe}}`: the message's
  unsubscribe link when the engine passes `unsubscribe_url` (an ``<a>`` in HTML, the bare URL in
  text and inside an HTML tag such as ``href="{{unsubscribeLink}}"``).
  Coldsend extensions (not Instantly variables; a lead custom variable of the same name wins):
  `time_of_day` (morning 00-11 / afternoon 12-17 / evening 18-23), `day_of_week` (Monday..Sunday),
  `current_date` ("November 26, 2026"), all computed from an injected ``now`` in the
  campaign's timezone; `sender_first_name` (alias of `sendingAccountFirstName`).
* ``{{firstName|there}}`` / ``{{firstName | there}}`` -- fallback used when the value is missing,
  None or blank. Without a fallback a missing value renders as the empty string.
* ``{{RANDOM | Hi | Hello | Hey}}`` -- spintax: one option is chosen per render (keyword is
  case-insensitive, whitespace around options is trimmed, options may contain variables, Liquid
  blocks and nested ``{{RANDOM|...}}``, an empty option is allowed). Single-brace ``{a|b}`` is not
  Instantly syntax and is sent as written.
* Liquid conditionals: ``{% if firstName %}Hi {{firstName}}{% else %}Hi there{% endif %}``, with
  ``{% elsif %}``, ``{% unless %}...{% endunless %}``, operators ``== != <> < > <= >= contains``,
  ``and`` / ``or`` (evaluated right to left, as in Liquid), literals ``"text"`` ``'text'`` ``42``
  ``true`` ``false`` ``nil`` ``blank`` ``empty``, and ``{%-`` / ``-%}`` whitespace trimming.
  A missing, None, false or blank value is false (so ``{% if firstName %}`` tests "has a first
  name"). Other tags (``{% for %}``, ``{% assign %}``...) and filters are not supported.
* Variable names match exactly first, then case-insensitively (``{{FirstName}}`` finds
  `firstName`): Instantly's custom variables are case-sensitive, so two keys differing only in
  case stay distinct, but a miscased name still renders instead of coming out empty.
* Anything else (``{{ }}``, ``{{#if x}}``, an unknown or unbalanced ``{% %}`` tag, an unclosed
  ``{{``, single-brace text such as CSS ``{color: red}``) is left as-is, verbatim.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from itertools import pairwise
from typing import Any
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
_OPEN_RE = re.compile(r"\{[{%]")
_BRACE_RE = re.compile(r"\{\{|\}\}|\{%")
_escape = _html.escape


class RawHTML(str):
    """A trusted HTML value (e.g. an account signature): not escaped in HTML parts, converted to
    plain text in subject/text parts."""

    __slots__ = ()


class _UnsubscribeURL(str):
    """The message's unsubscribe URL: an ``<a>`` link in HTML, the bare URL in text and inside
    HTML tags (``href="{{unsubscribeLink}}"``)."""

    __slots__ = ()


_UNSUBSCRIBE_TEXT = "unsubscribe"
_UNSUBSCRIBE_KEYS = frozenset({"unsubscribelink", "unsubscribe"})


class RenderContext(dict[str, object]):
    """Variable values keyed by exact name, plus a case-folded index for case-insensitive lookups
    (on a case-insensitive clash the key inserted last wins). Build with `build_context` or
    `RenderContext.of`."""

    __slots__ = ("folded",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.folded: dict[str, object] = {k.casefold(): v for k, v in self.items()}

    @classmethod
    def of(cls, values: Mapping[str, object]) -> RenderContext:
        return cls((str(k), v) for k, v in values.items())

    def _refold(self) -> None:
        self.folded = {k.casefold(): v for k, v in self.items()}

    def __setitem__(self, key: str, value: object) -> None:
        super().__setitem__(key, value)
        self.folded[key.casefold()] = value

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._refold()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._refold()

    def __ior__(self, other: Any) -> RenderContext:  # type: ignore[override,misc]
        self.update(other)
        return self

    def setdefault(self, key: str, default: object = None) -> object:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._refold()
        return value

    def popitem(self) -> tuple[str, object]:
        item = super().popitem()
        self._refold()
        return item

    def clear(self) -> None:
        super().clear()
        self.folded = {}


# --------------------------------------------------------------------------- compiled nodes


def _lookup(ctx: RenderContext, name: str, key: str) -> object:
    value = ctx.get(name)
    if value is None:
        return ctx.folded.get(key)
    return value


@dataclass(frozen=True, slots=True)
class _Var:
    name: str  # as written
    key: str  # case-folded name
    fallback: str  # "" when the tag has none
    source: str  # original text, for debugging
    in_tag: bool = False  # inside an HTML tag (e.g. an href attribute value)

    def render(self, ctx: RenderContext, rng: random.Random, html: bool) -> str:
        value = ctx.get(self.name)
        if value is None:
            value = ctx.folded.get(self.key)
            if value is None:
                return self.fallback
        if value.__class__ is str:
            if not value or value.isspace():
                return self.fallback
            return _escape(value, True) if html else value
        return self._render_other(value, html)

    def _render_other(self, value: object, html: bool) -> str:
        text = str(value)
        if not text or text.isspace():
            return self.fallback
        if isinstance(value, _UnsubscribeURL):
            if not html:
                return text
            url = _escape(text, True)
            return url if self.in_tag else f'<a href="{url}">{_UNSUBSCRIBE_TEXT}</a>'
        if isinstance(value, RawHTML):
            return text if html else html_to_text(text)
        return _escape(text, True) if html else text


@dataclass(frozen=True, slots=True)
class _Random:
    options: tuple[tuple[_Part, ...], ...]

    def render(self, ctx: RenderContext, rng: random.Random, html: bool) -> str:
        parts = self.options[rng.randrange(len(self.options))]
        return _render_parts(parts, ctx, rng, html)


# Liquid conditions ---------------------------------------------------------------------------

_BLANK: Any = object()  # the `blank` / `empty` literal


@dataclass(frozen=True, slots=True)
class _Operand:
    literal: object = None
    name: str | None = None  # a variable reference when set
    key: str = ""

    def get(self, ctx: RenderContext) -> object:
        return self.literal if self.name is None else _lookup(ctx, self.name, self.key)


def _is_blank(value: object) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value or value.isspace()
    if isinstance(value, list | tuple | dict | set):
        return not value
    return False


def _number(value: object) -> float | None:
    if value.__class__ in (int, float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _equal(a: object, b: object) -> bool:
    if a is _BLANK or b is _BLANK:
        return _is_blank(b if a is _BLANK else a)
    if a is None or b is None:
        return a is b
    if a.__class__ is bool or b.__class__ is bool:
        return a is b or str(a).lower() == str(b).lower()
    if a.__class__ in (int, float) or b.__class__ in (int, float):
        na, nb = _number(a), _number(b)
        if na is not None and nb is not None:
            return na == nb
    return str(a) == str(b)


def _order(a: object, b: object, op: str) -> bool:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        x: Any = na
        y: Any = nb
    elif isinstance(a, str) and isinstance(b, str):
        x, y = a, b
    else:
        return False
    if op == "<":
        return bool(x < y)
    if op == ">":
        return bool(x > y)
    if op == "<=":
        return bool(x <= y)
    return bool(x >= y)


@dataclass(frozen=True, slots=True)
class _Compare:
    left: _Operand
    op: str  # "" = truthiness
    right: _Operand | None

    def test(self, ctx: RenderContext) -> bool:
        a = self.left.get(ctx)
        if not self.op:
            return a is not _BLANK and not _is_blank(a)
        b = self.right.get(ctx) if self.right is not None else None
        op = self.op
        if op == "==":
            return _equal(a, b)
        if op in ("!=", "<>"):
            return not _equal(a, b)
        if op == "contains":
            if a is None or b is None or a is _BLANK or b is _BLANK:
                return False
            if isinstance(a, str):
                return str(b) in a
            if isinstance(a, list | tuple | set | dict):
                return b in a
            return False
        if a is _BLANK or b is _BLANK:
            return False
        return _order(a, b, op)


@dataclass(frozen=True, slots=True)
class _Logic:
    op: str  # "and" | "or"
    left: _Condition
    right: _Condition

    def test(self, ctx: RenderContext) -> bool:
        if self.op == "and":
            return self.left.test(ctx) and self.right.test(ctx)
        return self.left.test(ctx) or self.right.test(ctx)


@dataclass(frozen=True, slots=True)
class _Not:
    inner: _Condition

    def test(self, ctx: RenderContext) -> bool:
        return not self.inner.test(ctx)


_Condition = _Compare | _Logic | _Not


@dataclass(frozen=True, slots=True)
class _If:
    """A compiled ``{% if %}`` / ``{% unless %}`` block: the first branch whose condition holds
    (None = ``else``) is rendered."""

    branches: tuple[tuple[_Condition | None, tuple[_Part, ...]], ...]

    def render(self, ctx: RenderContext, rng: random.Random, html: bool) -> str:
        for condition, parts in self.branches:
            if condition is None or condition.test(ctx):
                return _render_parts(parts, ctx, rng, html)
        return ""


_Part = str | _Var | _Random | _If


def _render_parts(parts: tuple[_Part, ...], ctx: RenderContext, rng: random.Random, html: bool) -> str:
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
        """Render with `context` (a `RenderContext`; any other mapping is converted first).

        `rng` defaults to ``random.Random(0)`` (deterministic); the engine passes one seeded per
        outbox row. ``html=True`` HTML-escapes inserted values."""
        ctx = context if isinstance(context, RenderContext) else RenderContext.of(context)
        return _render_parts(self.parts, ctx, rng if rng is not None else random.Random(0), html)


# --------------------------------------------------------------------------- parser


def _find_close(text: str, start: int) -> int:
    """Index of the ``}}`` closing the ``{{`` whose content starts at `start`, honoring nested
    ``{{ }}`` pairs and skipping ``{% %}`` tags; -1 if unclosed."""
    depth = 0
    i = start
    while True:
        m = _BRACE_RE.search(text, i)
        if m is None:
            return -1
        k = m.start()
        token = m.group()
        if token == "{%":
            end = text.find("%}", k + 2)
            i = end + 2 if end >= 0 else k + 2
        elif token == "{{":
            depth += 1
            i = k + 2
        elif depth == 0:
            return k
        else:
            depth -= 1
            i = k + 2


def _split_top(inner: str) -> list[str]:
    """Split on ``|`` not inside nested ``{{ }}`` or a ``{% %}`` tag."""
    out: list[str] = []
    depth = 0
    last = 0
    i = 0
    n = len(inner)
    while i < n:
        if inner.startswith("{{", i):
            depth += 1
            i += 2
        elif inner.startswith("{%", i):
            end = inner.find("%}", i + 2)
            i = end + 2 if end >= 0 else i + 2
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


def _compile_expr(inner: str, source: str, text: str, at: int) -> _Part | None:
    m = _RANDOM_RE.match(inner)
    if m:
        options = _split_top(inner[m.end() :])
        return _Random(tuple(_parse(opt.strip()) for opt in options))
    name, sep, fallback = inner.partition("|")
    name = name.strip()
    if not _NAME_RE.fullmatch(name) or "{{" in fallback:
        return None
    key = name.casefold()
    in_tag = key in _UNSUBSCRIBE_KEYS and text.rfind("<", 0, at) > text.rfind(">", 0, at)
    return _Var(name, key, fallback.strip() if sep else "", source, in_tag)


# Liquid tags ---------------------------------------------------------------------------------

_TAG_RE = re.compile(r"\{%(-?)\s*([a-z]+)\b(.*?)\s*(-?)%\}", re.DOTALL)
_COND_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<str>"[^"]*"|'[^']*')
      | (?P<op>==|!=|<>|<=|>=|<|>)
      | (?P<num>-?\d+(?:\.\d+)?)(?![A-Za-z0-9_])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
    )""",
    re.VERBOSE,
)
_KEYWORD_LITERALS: dict[str, object] = {"true": True, "false": False, "nil": None, "null": None}


@dataclass(frozen=True, slots=True)
class _Tag:
    kind: str  # if | elsif | else | endif | unless | endunless
    condition: _Condition | None
    source: str
    trim_left: bool
    trim_right: bool


def _operand(kind: str, value: str) -> _Operand | None:
    if kind == "str":
        return _Operand(literal=value[1:-1])
    if kind == "num":
        return _Operand(literal=float(value) if "." in value else int(value))
    if kind != "word" or value in ("and", "or", "contains"):
        return None
    if value in _KEYWORD_LITERALS:
        return _Operand(literal=_KEYWORD_LITERALS[value])
    if value in ("blank", "empty"):
        return _Operand(literal=_BLANK)
    return _Operand(name=value, key=value.casefold())


def _parse_condition(src: str) -> _Condition | None:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(src):
        m = _COND_TOKEN_RE.match(src, pos)
        if m is None:
            if src[pos:].strip():
                return None
            break
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    compares: list[_Compare] = []
    joins: list[str] = []
    i = 0
    while True:
        if i >= len(tokens) or (left := _operand(*tokens[i])) is None:
            return None
        i += 1
        op, right = "", None
        if i < len(tokens) and (tokens[i][0] == "op" or tokens[i] == ("word", "contains")):
            op = tokens[i][1]
            if i + 1 >= len(tokens) or (right := _operand(*tokens[i + 1])) is None:
                return None
            i += 2
        compares.append(_Compare(left, op, right))
        if i == len(tokens):
            break
        if tokens[i] not in (("word", "and"), ("word", "or")):
            return None
        joins.append(tokens[i][1])
        i += 1
    condition: _Condition = compares[-1]
    for join, compare in zip(reversed(joins), reversed(compares[:-1]), strict=True):
        condition = _Logic(join, compare, condition)  # Liquid evaluates right to left
    return condition


def _compile_tag(source: str) -> _Tag | None:
    m = _TAG_RE.fullmatch(source)
    if m is None:
        return None
    kind, rest = m.group(2), m.group(3).strip()
    condition: _Condition | None = None
    if kind in ("if", "elsif", "unless"):
        condition = _parse_condition(rest)
        if condition is None:
            return None
    elif kind not in ("else", "endif", "endunless") or rest:
        return None
    return _Tag(kind, condition, source, bool(m.group(1)), bool(m.group(4)))


def _build(flat: list[str | _Part | _Tag]) -> tuple[_Part, ...]:
    """Match Liquid tags into blocks (unmatched tags become literal text), apply ``{%-``/``-%}``
    trimming and build the node tree."""
    blocks: dict[int, list[int]] = {}  # opener index -> [elsif/else indices..., closer index]
    stack: list[list[int]] = []
    for idx, item in enumerate(flat):
        if item.__class__ is not _Tag:
            continue
        tag: _Tag = item
        if tag.kind in ("if", "unless"):
            stack.append([idx])
        elif tag.kind in ("elsif", "else"):
            top = stack[-1] if stack else None
            opener = flat[top[0]] if top else None
            if (
                top is not None
                and isinstance(opener, _Tag)
                and (tag.kind == "else" or opener.kind == "if")
                and not any(flat[k].kind == "else" for k in top[1:])  # type: ignore[union-attr]
            ):
                top.append(idx)
            else:
                flat[idx] = tag.source
        else:
            opener = flat[stack[-1][0]] if stack else None
            if isinstance(opener, _Tag) and opener.kind == ("if" if tag.kind == "endif" else "unless"):
                entry = stack.pop()
                blocks[entry[0]] = [*entry[1:], idx]
            else:
                flat[idx] = tag.source
    for entry in stack:
        for k in entry:
            flat[k] = flat[k].source  # type: ignore[union-attr]
    for idx, item in enumerate(flat):
        if isinstance(item, _Tag):
            if item.trim_left and idx and isinstance(flat[idx - 1], str):
                flat[idx - 1] = flat[idx - 1].rstrip()  # type: ignore[union-attr]
            if item.trim_right and idx + 1 < len(flat) and isinstance(flat[idx + 1], str):
                flat[idx + 1] = flat[idx + 1].lstrip()  # type: ignore[union-attr]

    def build(lo: int, hi: int) -> tuple[_Part, ...]:
        out: list[_Part] = []
        idx = lo
        while idx < hi:
            item = flat[idx]
            if isinstance(item, _Tag):
                bounds = [idx, *blocks[idx]]
                branches: list[tuple[_Condition | None, tuple[_Part, ...]]] = []
                for start, end in pairwise(bounds):
                    tag: _Tag = flat[start]  # type: ignore[assignment]
                    condition = tag.condition
                    if tag.kind == "unless" and condition is not None:
                        condition = _Not(condition)
                    branches.append((condition, build(start + 1, end)))
                out.append(_If(tuple(branches)))
                idx = bounds[-1] + 1
            else:
                out.append(item)
                idx += 1
        return _merge(out)

    return build(0, len(flat))


def _merge(parts: Iterable[_Part]) -> tuple[_Part, ...]:
    out: list[_Part] = []
    for part in parts:
        if part.__class__ is str:
            if not part:
                continue
            if out and out[-1].__class__ is str:
                out[-1] = out[-1] + part
                continue
        out.append(part)
    return tuple(out)


def _parse(text: str) -> tuple[_Part, ...]:
    flat: list[str | _Part | _Tag] = []
    i = 0
    n = len(text)
    while i < n:
        m = _OPEN_RE.search(text, i)
        if m is None:
            flat.append(text[i:])
            break
        j = m.start()
        if j > i:
            flat.append(text[i:j])
        if text[j + 1] == "%":
            close = text.find("%}", j + 2)
            if close < 0:
                flat.append("{%")
                i = j + 2
                continue
            source = text[j : close + 2]
            flat.append(_compile_tag(source) or source)
            i = close + 2
            continue
        close = _find_close(text, j + 2)
        if close < 0:
            flat.append(text[j:])
            break
        source = text[j : close + 2]
        node = _compile_expr(text[j + 2 : close], source, text, j)
        flat.append(source if node is None else node)
        i = close + 2
    return _build(flat)


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


def _present(value: object) -> bool:
    return value is not None and str(value).strip() != ""


def build_context(
    lead: Mapping[str, object],
    account: Mapping[str, object] | None = None,
    *,
    now: datetime | None = None,
    timezone: str | None = None,
    unsubscribe_url: str | None = None,
) -> RenderContext:
    """Build the render context for one message.

    `lead`: a lead row as a mapping; snake_case (`first_name`) or camelCase (`firstName`) keys;
    custom variables from ``lead["payload"]`` (or ``custom_variables``). Standard fields win over
    same-named custom variables unless the standard field is empty.
    `account`: the sending account (`first_name`, `last_name`, `email`, `signature`).
    `now` (aware datetime) + `timezone` (IANA name, e.g. the campaign schedule's) give the Coldsend
    time variables; omitted -> they are missing. A lead custom variable of the same name wins.
    `unsubscribe_url`: this message's unsubscribe URL, rendered by ``{{unsubscribeLink}}`` and
    ``{{unsubscribe}}``.
    """
    values: dict[str, object] = {}

    def put(name: str, value: object) -> None:
        values.pop(name, None)  # re-insert last: the case-insensitive index prefers later keys
        values[name] = value

    # lowest priority: Coldsend extensions, overridden by a same-named custom variable
    if now is not None:
        local = now.astimezone(ZoneInfo(timezone)) if timezone else now
        hour = local.hour
        put("time_of_day", "morning" if hour < 12 else "afternoon" if hour < 18 else "evening")
        put("day_of_week", _DAYS[local.weekday()])
        put("current_date", f"{local:%B} {local.day}, {local.year}")
    if account is not None and _present(sender_first := _get(account, "first_name", "firstName")):
        put("sender_first_name", sender_first)
    for source_key in ("payload", "custom_variables"):
        custom = lead.get(source_key)
        if isinstance(custom, Mapping):
            for k, v in custom.items():
                put(str(k), v)
    for name, snake in _LEAD_FIELDS.items():
        value = _get(lead, snake, name)
        if _present(value):
            put(name, value)
    if account is not None:
        for name, snake in _ACCOUNT_FIELDS.items():
            value = _get(account, snake, name)
            if value is not None:
                put(name, value)
        full_name = " ".join(
            str(part).strip() for part in (_get(account, "first_name"), _get(account, "last_name")) if _present(part)
        )
        if full_name:
            put("sendingAccountName", full_name)
        signature = _get(account, "signature", "accountSignature")
        if signature is not None:
            put("accountSignature", RawHTML(str(signature)))
    if unsubscribe_url:
        link = _UnsubscribeURL(unsubscribe_url)
        put("unsubscribeLink", link)
        put("unsubscribe", link)
    return RenderContext(values)


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
