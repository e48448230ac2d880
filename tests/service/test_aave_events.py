"""Aave's pool-admin and aToken events through ``POST /events``: the service takes what the
engine takes (docs/service.md, docs/presets.md#isolation-mode)."""

from __future__ import annotations

from typing import Any

from tests.service.conftest import AUTH


def post(client: Any, event: dict[str, Any]) -> Any:
    return client.post("/events", json={"events": [event]}, headers=AUTH)


def test_grace_period_when_zero_then_accepted_and_the_grace_ends(client: Any) -> None:
    # presets.md: "0 ends it, as disableLiquidationGracePeriod"; the service refused 0 as
    # "must be positive", so a grace period once set could not be ended over HTTP.
    grace = {"type": "SetLiquidationGracePeriod", "asset": "WETH", "grace_period": 3600}
    assert post(client, grace).json()["outcomes"][0]["accepted"]
    reserves = client.service.engine.ledger.reserves
    assert reserves["WETH"].liquidation_grace_period_until == 3600
    r = post(client, {**grace, "grace_period": 0})
    assert r.status_code == 200, r.text
    assert r.json()["outcomes"][0]["accepted"]
    assert reserves["WETH"].liquidation_grace_period_until == 0


def test_grace_period_when_negative_then_422_says_zero_is_allowed(client: Any) -> None:
    r = post(client, {"type": "SetLiquidationGracePeriod", "asset": "WETH",
                      "grace_period": -1})
    assert r.status_code == 422
    assert r.json()["error"] == "events.0.grace_period: must be at least 0 (got -1)"


def test_user_emode_when_category_zero_then_the_account_leaves_e_mode(client: Any) -> None:
    # Category 0 is "no e-mode" (Aave's setUserEMode(0)); the service refused it as
    # "must be positive", so an account could enter e-mode over HTTP but never leave it.
    r = post(client, {"type": "SetUserEMode", "account": "alice", "category": 0})
    assert r.status_code == 200, r.text
    assert r.json()["outcomes"][0]["accepted"]


def test_openapi_when_fetched_then_the_events_body_names_every_event_type(client: Any) -> None:
    # POST /events takes any engine event by "type"; /docs described the body only as a
    # list of objects, so a user could not learn there that RepayWithATokens or
    # SetLiquidationGracePeriod exist, nor their fields.
    import dataclasses

    from marginengine.engine import EVENT_TYPES

    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["TickIn"]["properties"]["events"]["x-event-fields"] \
        == schemas["EventsIn"]["properties"]["events"]["x-event-fields"]
    events = schemas["EventsIn"]["properties"]["events"]
    types = events["items"]["properties"]["type"]
    assert types["enum"] == list(EVENT_TYPES)
    fields = events["x-event-fields"]
    assert fields["SetLiquidationGracePeriod"] == ["asset", "grace_period"]
    assert fields["RepayWithATokens"] == ["account", "asset", "amount"]
    assert fields == {name: [f.name for f in dataclasses.fields(cls)]
                      for name, cls in EVENT_TYPES.items()}
