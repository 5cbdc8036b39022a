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


# --------------------------------------------------------------------------- sender / system variables


def test_sending_account_name_and_sender_first_name_alias() -> None:
    assert render("{{sendingAccountName}} / {{sender_first_name}}", ctx()) == "Sam Sender / Sam"
    assert render("{{sendingAccountName}}", build_context(LEAD, {"first_name": "Sam", "last_name": ""})) == "Sam"
    assert render("{{sendingAccountName|Team}}", build_context(LEAD, {"email": "x@y.test"})) == "Team"
    # the Coldsend alias never shadows a lead custom variable of the same name
    assert render("{{sender_first_name}}", ctx(payload={"sender_first_name": "Raphael"})) == "Raphael"


def test_unsubscribe_link_html_text_and_inside_a_tag() -> None:
    url = "https://t.example/u/abc?x=1&y=2"
    c = build_context(LEAD, ACCOUNT, unsubscribe_url=url)
    escaped = "https://t.example/u/abc?x=1&amp;y=2"
    for name in ("unsubscribeLink", "unsubscribe", "UnsubscribeLink"):
        tpl = compile_template("Bye. {{" + name + "}}")
        assert tpl.render(c, html=True) == f'Bye. <a href="{escaped}">unsubscribe</a>'
        assert tpl.render(c) == f"Bye. {url}"
    # inside an HTML tag (an attribute value) only the URL is inserted
    tpl = compile_template('<p><a style="color:#999" href="{{unsubscribeLink}}">Opt out</a> {{unsubscribe}}</p>')
    assert tpl.render(c, html=True) == (
        f'<p><a style="color:#999" href="{escaped}">Opt out</a> <a href="{escaped}">unsubscribe</a></p>'
    )
    assert tpl.render(c) == f'<p><a style="color:#999" href="{url}">Opt out</a> {url}</p>'


def test_unsubscribe_without_url() -> None:
    # no URL passed: missing (fallback applies), or a lead custom variable of that name
    assert render("[{{unsubscribeLink}}][{{unsubscribe|reply stop}}]", ctx()) == "[][reply stop]"
    assert render("{{unsubscribe}}", ctx(payload={"unsubscribe": "custom"})) == "custom"
    # a passed URL wins over a same-named custom variable
    c = build_context({**LEAD, "payload": {"unsubscribe": "custom"}}, unsubscribe_url="https://u.test/1")
    assert render("{{unsubscribe}}", c) == "https://u.test/1"


def test_time_variables_yield_to_custom_variables() -> None:
    now = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
    c = build_context({**LEAD, "payload": {"day_of_week": "payday"}}, now=now, timezone="UTC")
    assert render("{{day_of_week}} {{time_of_day}}", c) == "payday afternoon"


# --------------------------------------------------------------------------- name matching


def test_exact_name_match_before_case_insensitive() -> None:
    c = RenderContext.of({"Name": "upper", "name": "lower", "City": "Berlin"})
    assert render("{{Name}}|{{name}}|{{city}}|{{CITY}}", c) == "upper|lower|Berlin|Berlin"
    # on a case-insensitive clash the key inserted last wins
    assert render("{{NAME}}", c) == "lower"
    # standard fields beat differently-cased custom variables for a miscased tag
    assert render("{{FIRSTNAME}}", ctx(payload={"firstname": "custom"})) == "Jane"
    assert render("{{firstname}}", ctx(payload={"firstname": "custom"})) == "custom"


def test_render_context_index_follows_mutation() -> None:
    c = RenderContext.of({"a": "1"})
    c["Bee"] = "2"
    c.update({"Sea": "3"})
    c |= {"Dee": "4"}
    c.setdefault("Eee", "5")
    assert render("{{A}}{{bee}}{{SEA}}{{dee}}{{eee}}", c) == "12345"
    del c["Bee"]
    c.pop("Sea")
    assert render("[{{bee}}{{sea}}{{dee}}]", c) == "[4]"
    c.clear()
    assert render("[{{a}}]", c) == "[]"


# --------------------------------------------------------------------------- Liquid conditionals


def test_liquid_if_else_fallback_greeting() -> None:
    tpl = compile_template("{% if firstName %}Hi {{firstName}}{% else %}Hi there{% endif %},")
    assert tpl.render(ctx()) == "Hi Jane,"
    assert tpl.render(ctx(first_name="  ", payload={})) == "Hi there,"
    assert tpl.render(ctx(first_name=None, payload={})) == "Hi there,"
    assert tpl.render(RenderContext.of({"FirstName": "Al"})) == "Hi Al,"  # case-insensitive lookup


def test_liquid_elsif_unless_and_nesting() -> None:
    tpl = compile_template(
        "{% if tier == 'gold' %}G{% elsif tier == \"silver\" %}S{% elsif tier %}other{% else %}none{% endif %}"
    )
    assert [tpl.render(RenderContext.of({"tier": t})) for t in ("gold", "silver", "bronze", "")] == [
        "G",
        "S",
        "other",
        "none",
    ]
    tpl = compile_template("{% unless companyName %}your team{% else %}{{companyName}}{% endunless %}")
    assert tpl.render(ctx()) == "Acme & Sons"
    assert tpl.render(ctx(company_name="")) == "your team"
    nested = "{% if firstName %}{% if city %}{{firstName}} in {{city}}{% else %}{{firstName}}{% endif %}{% endif %}"
    assert render(nested, ctx()) == "Jane in Berlin"
    assert render(nested, ctx(payload={})) == "Jane"
    assert render(nested, ctx(first_name="", payload={})) == ""


def test_liquid_operators_and_literals() -> None:
    c = RenderContext.of({"n": "120", "m": 7, "s": "Hello World", "flag": True, "off": False, "tags": ["a", "b"]})
    cases = {
        "{% if n > 100 %}y{% endif %}": "y",  # numeric strings compare as numbers
        "{% if n < 100 %}y{% endif %}": "",
        "{% if m >= 7 %}y{% endif %}": "y",
        "{% if m <= 6.5 %}y{% endif %}": "",
        "{% if m == 7 %}y{% endif %}": "y",
        "{% if m == '7' %}y{% endif %}": "y",
        "{% if m != 7 %}y{% endif %}": "",
        "{% if m <> 8 %}y{% endif %}": "y",
        "{% if s contains 'World' %}y{% endif %}": "y",
        "{% if s contains 'world' %}y{% endif %}": "",
        "{% if tags contains 'b' %}y{% endif %}": "y",
        "{% if s == 'Hello World' %}y{% endif %}": "y",
        "{% if s > 'Apple' %}y{% endif %}": "y",
        "{% if flag == true %}y{% endif %}": "y",
        "{% if off %}y{% else %}n{% endif %}": "n",
        "{% if missing == nil %}y{% endif %}": "y",
        "{% if missing == blank %}y{% endif %}": "y",
        "{% if s != empty %}y{% endif %}": "y",
        "{% if s > 5 %}y{% else %}n{% endif %}": "n",  # not comparable -> false
        "{% if missing contains 'x' %}y{% else %}n{% endif %}": "n",
    }
    for text, expected in cases.items():
        assert render(text, c) == expected, text


def test_liquid_and_or_evaluate_right_to_left() -> None:
    c = RenderContext.of({"t": "1", "f": ""})
    # Liquid reads `f and f or t` as `f and (f or t)`
    assert render("{% if f and f or t %}y{% else %}n{% endif %}", c) == "n"
    assert render("{% if t or f and f %}y{% else %}n{% endif %}", c) == "y"
    assert render("{% if t and t and f %}y{% else %}n{% endif %}", c) == "n"
    assert render("{% if f or f or t %}y{% else %}n{% endif %}", c) == "y"


def test_liquid_whitespace_trimming() -> None:
    tpl = compile_template("Hi\n{%- if firstName %} {{firstName}}{% endif -%}\n,")
    assert tpl.render(ctx()) == "Hi Jane,"
    assert tpl.render(ctx(first_name="", payload={})) == "Hi,"


def test_liquid_blocks_with_random_and_html_escaping() -> None:
    c = ctx()
    outs = {
        render("{{RANDOM|{% if firstName %}Hey {{firstName}}{% endif %}|Yo}}!", c, random.Random(s)) for s in range(60)
    }
    assert outs == {"Hey Jane!", "Yo!"}
    outs = {render("{% if city %}{{RANDOM|a|b}}{% endif %}", c, random.Random(s)) for s in range(60)}
    assert outs == {"a", "b"}
    assert render("{{RANDOM|x|{% if firstName %}b{% endif %}}}", c, random.Random(0)) in {"x", "b"}
    assert render("{% if painPoint %}<b>{{painPoint}}</b>{% endif %}", c, html=True) == "<b>&lt;churn&gt;</b>"


def test_liquid_malformed_or_unsupported_tags_left_verbatim() -> None:
    c = ctx()
    for text in (
        "{% if firstName %}no end",
        "{% endif %}",
        "{% else %}",
        "{% if %}x{% endif %}",
        "{% if firstName = 'x' %}x{% endif %}",
        "{% if firstName and %}x{% endif %}",
        "{% assign x = 1 %}",
        "{% IF firstName %}x{% ENDIF %}",
        "{% if firstName %}x{% endunless %}",
        "50{% of them",
    ):
        assert render(text, c) == text, text
    # a second `else` is text inside the first `else` branch
    double_else = "{% if firstName %}a{% else %}b{% else %}c{% endif %}"
    assert render(double_else, c) == "a"
    assert render(double_else, ctx(first_name="", payload={})) == "b{% else %}c"
    # `elsif` belongs to `if` only: inside `unless` it is text
    unless = "{% unless firstName %}x{% elsif city %}y{% endunless %}"
    assert render(unless, ctx(first_name="", payload={})) == "x{% elsif city %}y"
    assert render("{% if x %}{% if y %}{% endif %}", c) == "{% if x %}"
    assert render("{% comment %} {{firstName}}", c) == "{% comment %} Jane"
    assert render("100{% and {{firstName}}", c) == "100{% and Jane"


def test_performance_with_liquid_blocks() -> None:
    block = (
        "<p>{% if firstName %}{{RANDOM|Hi|Hello}} {{firstName}}{% else %}Hi there{% endif %}, "
        "{% if city == 'Berlin' and companyName %}greetings to {{companyName}} in {{city}}{% endif %}.</p>\n"
    )
    tpl = compile_template((block * (2048 // len(block) + 1))[:2048])
    c = ctx()
    rng = random.Random(1)
    start = time.perf_counter()
    for _ in range(10_000):
        tpl.render(c, rng, html=True)
    assert time.perf_counter() - start < 3.0
