"""Every endpoint of the app checks its input for unsafe characters, not just some."""

from fastapi.routing import iter_route_contexts

from app.interfaces.safe_input_route import SafeInputRoute
from app.main import create_app
from app.models.text import first_unsafe_character
from tests.conftest import SettingsFactory


def test_every_endpoint_uses_the_safe_input_route(make_settings: SettingsFactory) -> None:
    app = create_app(make_settings(metrics_enabled=True))
    contexts = list(iter_route_contexts(app.routes))
    unguarded = sorted(
        context.path
        for context in contexts
        if not isinstance(context.original_route, SafeInputRoute)
    )
    # FastAPI's own schema route and the docs' static files take no input of ours.
    assert unguarded == ["/docs/assets", "/openapi.json"]
    assert len(contexts) > 30


def test_the_rule_refuses_controls_separators_and_bidi_formatting_only() -> None:
    refused = [chr(c) for c in range(0x20)] + [chr(c) for c in range(0x7F, 0xA0)]
    refused += ["\u2028", "\u2029"]
    refused += [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
    for character in refused:
        assert first_unsafe_character(f"a{character}b") == character, hex(ord(character))
    # Ordinary text passes, and so do the marks right-to-left text needs (RLM, ALM),
    # a no-break space, the zero-width joiner of emoji sequences, and U+206A.
    allowed = ["Zoë", "שרה\u200f", "\u061cعلي", "山田 太郎", "a b", "\u00a0", "x\u200dy", "\u206a"]
    for text in allowed:
        assert first_unsafe_character(text) is None, text
