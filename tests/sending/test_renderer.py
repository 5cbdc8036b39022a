"""Unit tests for the campaign template renderer (pure functions, no database)."""

import random
import time
from collections import Counter
from datetime import UTC, datetime

from coldsend.sending.renderer import (
    RawHTML,
    RenderContext,
    build_context,
    compile_template,
    html_to_text,
    render,
)

LEAD = {
    "email": "jane@acme.test",
    "first_name": "Jane",
    "last_name": "Doe",
    "company_name": "Acme & Sons",
    "website": "acme.test",
    "phone": "+1 555 0100",
    "job_title": "CTO",
    "personalization": "Loved your talk.",
    "payload": {"city": "Berlin", "painPoint": "<churn>", "firstName": "ignored"},
}
ACCOUNT = {"first_name": "Sam", "last_name": "Sender", "email": "sam@out.test", "signature": "<b>Sam</b><br>CEO"}


def ctx(**lead_overrides: object) -> RenderContext:
    return build_context({**LEAD, **lead_overrides}, ACCOUNT)


def test_lead_variables() -> None:
    tpl = compile_template(
        "{{firstName}}|{{lastName}}|{{companyName}}|{{email}}|{{website}}|{{phone}}|{{jobTitle}}|{{personalization}}"
    )
    assert tpl.render(ctx()) == "Jane|Doe|Acme & Sons|jane@acme.test|acme.test|+1 555 0100|CTO|Loved your talk."


def test_camel_case_lead_keys_accepted() -> None:
    assert render("{{firstName}} {{companyName}}", build_context({"firstName": "Al", "companyName": "X"})) == "Al X"


def test_custom_variables_and_standard_field_precedence() -> None:
    assert render("{{city}} / {{painPoint}} / {{firstName}}", ctx()) == "Berlin / <churn> / Jane"
    # standard field empty -> same-named custom variable is used
    assert render("{{firstName}}", ctx(first_name="")) == "ignored"
    assert render("{{city}}", build_context({"custom_variables": {"city": "Paris"}})) == "Paris"


def test_sender_variables() -> None:
    tpl = compile_template("{{sendingAccountFirstName}} {{sendingAccountLastName}} <{{sendingAccountEmail}}>")
    assert tpl.render(ctx()) == "Sam Sender <sam@out.test>"


def test_signature_raw_in_html_text_in_plain() -> None:
    tpl = compile_template("--\n{{accountSignature}}")
    assert tpl.render(ctx(), html=True) == "--\n<b>Sam</b><br>CEO"
    assert tpl.render(ctx(), html=False) == "--\nSam\nCEO"


def test_time_variables_use_injected_now_and_timezone() -> None:
    now = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)  # Thursday
    tpl = compile_template("{{time_of_day}}|{{day_of_week}}|{{current_date}}")
    assert tpl.render(build_context(LEAD, now=now, timezone="Europe/Berlin")) == "afternoon|Thursday|November 26, 2026"
    assert (
        tpl.render(build_context(LEAD, now=now, timezone="America/Los_Angeles")) == "morning|Thursday|November 26, 2026"
    )
    assert tpl.render(build_context(LEAD, now=now, timezone="Asia/Tokyo")) == "evening|Thursday|November 26, 2026"
    assert tpl.render(build_context(LEAD, now=now, timezone="Pacific/Kiritimati")) == "morning|Friday|November 27, 2026"
    # no `now` -> time variables are simply missing
    assert tpl.render(build_context(LEAD)) == "||"


def test_missing_variable_renders_empty() -> None:
    assert render("Hi {{nickname}}!", ctx()) == "Hi !"


def test_fallbacks() -> None:
    assert render("Hi {{firstName|there}},", ctx(first_name=None, payload={})) == "Hi there,"
    assert render("Hi {{ firstName | there friend }},", ctx(first_name="  ", payload={})) == "Hi there friend,"
    assert render("Hi {{firstName|there}},", ctx()) == "Hi Jane,"
    assert render("{{nickname|}}x", ctx()) == "x"
    # fallback is template text: not escaped in HTML
    assert render("{{nickname|<i>friend</i>}}", ctx(), html=True) == "<i>friend</i>"


def test_variable_names_case_insensitive() -> None:
    assert render("{{FIRSTNAME}} {{firstname}} {{FirstName}} {{CITY}}", ctx()) == "Jane Jane Jane Berlin"
    assert compile_template("{{x}}").render({"X": "raw-mapping"}) == "raw-mapping"


def test_non_string_values() -> None:
    assert render("{{n}}-{{b}}", RenderContext.of({"n": 3, "b": False})) == "3-False"


def test_random_spintax_covers_all_options() -> None:
    tpl = compile_template("{{RANDOM | Hi | Hello | Hey}} {{firstName}}")
    c = ctx()
    seen = Counter(tpl.render(c, random.Random(seed)) for seed in range(300))
    assert set(seen) == {"Hi Jane", "Hello Jane", "Hey Jane"}
    assert min(seen.values()) > 50  # roughly uniform


def test_random_is_deterministic_per_seed() -> None:
    tpl = compile_template("{{RANDOM|a|b|c|d}}{{RANDOM|1|2|3}}{{RANDOM|x|y}}")
    c = ctx()
    assert all(tpl.render(c, random.Random(s)) == tpl.render(c, random.Random(s)) for s in range(50))
    assert tpl.render(c) == tpl.render(c)  # default rng is seeded


def test_random_keyword_case_whitespace_nested_and_empty_options() -> None:
    c = ctx()
    outs = {render("{{random|Hi {{firstName}}|{{RANDOM|Yo|Sup}} there}}", c, random.Random(s)) for s in range(200)}
    assert outs == {"Hi Jane", "Yo there", "Sup there"}
    outs = {render("[{{ Random |  a  ||b }}]", c, random.Random(s)) for s in range(200)}
    assert outs == {"[a]", "[]", "[b]"}
    # values inside options are escaped in HTML mode; option text is not
    outs = {render("{{RANDOM|<b>{{companyName}}</b>|x}}", c, random.Random(s), html=True) for s in range(50)}
    assert outs == {"<b>Acme &amp; Sons</b>", "x"}


def test_html_escaping_only_in_html_mode() -> None:
    tpl = compile_template("<p>Hi {{companyName}} {{painPoint}}</p>")
    assert tpl.render(ctx(), html=True) == "<p>Hi Acme &amp; Sons &lt;churn&gt;</p>"
    assert tpl.render(ctx(), html=False) == "<p>Hi Acme & Sons <churn></p>"
    assert render('<a title="{{x}}">', RenderContext.of({"x": '"q"'}), html=True) == '<a title="&quot;q&quot;">'
    # a lead-supplied value is never re-parsed as template syntax
    assert render("{{x}}", RenderContext.of({"x": "{{firstName}}"})) == "{{firstName}}"


def test_unknown_or_malformed_syntax_left_verbatim() -> None:
    c = ctx()
    for text in (
        "{{ }}",
        "{{#if firstName}}x{{/if}}",
        "{{first name}}",
        "open {{firstName",
        "css {color: red} and {a|b}",
        "}} stray",
        "{{x|{{y}}}}",
    ):
        assert render(text, c) == text, text
    assert render("{{#x}} {{firstName}}", c) == "{{#x}} Jane"


def test_compiled_template_is_static_flag() -> None:
    assert compile_template("plain text").is_static
    assert not compile_template("hi {{firstName}}").is_static
    assert compile_template("").render({}) == ""


def test_html_to_text() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>Hi Jane,</p><p>Line one<br>line  two<br/>three &amp; four&nbsp;five</p>"
        "<ul><li>a</li><li>b</li></ul><script>x()</script><div>Bye &lt;3</div></body></html>"
    )
    assert html_to_text(html) == "Hi Jane,\n\nLine one\nline two\nthree & four five\n\na\n\nb\n\nBye <3"
    assert html_to_text("plain") == "plain"
    assert html_to_text(RawHTML("<b>Sam</b><br>CEO")) == "Sam\nCEO"


def test_performance_compiled_2kb_template() -> None:
    paragraph = (
        "<p>{{RANDOM|Hi|Hello|Hey}} {{firstName|there}}, I noticed {{companyName}} is growing in {{city}}. "
        "{{personalization}} We help teams like yours with {{painPoint|retention}}.</p>\n"
    )
    text = (paragraph * (2048 // len(paragraph) + 1))[:2048]
    text = text[: text.rfind("</p>") + 4] + "{{accountSignature}}"
    tpl = compile_template(text)
    c = ctx()
    rng = random.Random(1)
    start = time.perf_counter()
    for _ in range(10_000):
        tpl.render(c, rng, html=True)
    assert time.perf_counter() - start < 3.0
