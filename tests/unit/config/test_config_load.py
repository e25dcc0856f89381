"""Config room: the loader accepts the shipped files and names file, key, value and fix for bad ones."""

from __future__ import annotations

import shutil
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from oms.cli import main as oms_main
from oms.config import ExchangeSettings, load
from oms.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
GOOD_EXCHANGE = (
    'venue = "binance"\nmarket = "spot"\nrest_url = "https://api.binance.com"\nws_url = "wss://x"\n'
)


def project(tmp_path: Path, oms_toml: str = "", exchanges: dict[str, str] | None = None) -> Path:
    cfg = tmp_path / "configs"
    (cfg / "exchanges").mkdir(parents=True)
    (cfg / "oms.toml").write_text(oms_toml)
    for name, text in (exchanges or {}).items():
        (cfg / "exchanges" / f"{name}.toml").write_text(text)
    return cfg / "oms.toml"


def error_of(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as ei:
        load(path, env=env or {})
    return str(ei.value)


def test_shipped_config_is_valid() -> None:
    cfg = load(ROOT / "configs" / "oms.toml", env={})
    assert cfg.root == ROOT
    assert cfg.core_map() == {
        "engine": 2,
        "marketdata": 3,
        "conn-binance": 4,
        "gateway": None,
        "bridge": None,
        "recorder": None,
        "monitor": None,
        "keys": None,
    }
    assert cfg.processes["conn-okx"].core == 6 and not cfg.processes["conn-okx"].enabled
    assert set(cfg.exchanges) == {"binance_spot", "binance_usdm", "bybit_linear", "okx_swap"}
    spot = cfg.exchanges["binance_spot"]
    assert isinstance(spot, ExchangeSettings) and spot.fees.taker == Decimal("0.001")
    assert spot.credentials.key == "binance_spot"
    assert {(r.kind, r.interval_s) for r in spot.rate_limits} >= {("request_weight", 60), ("orders", 10)}
    assert not cfg.exchanges["okx_swap"].enabled and cfg.exchanges["okx_swap"].market == "linear"
    assert cfg.section("services").start == ["nats", "postgres", "redis", "openbao"]
    assert cfg.node.shm_prefix == "oms"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    cfg = load(project(tmp_path), env={})
    assert cfg.section("services").postgres.database == "oms"
    assert cfg.processes["engine"].core == 2
    assert cfg.root == tmp_path
    assert cfg.exchanges == {}


BAD = [
    # (oms.toml text, the key/value the message must name, part of the fix)
    ('[services.nats]\nport = "x"\n', '[services].nats.port = "x"', "must be an integer"),
    ("[services.nats]\nport = 70000\n", "[services].nats.port = 70000", "must be 0..65535"),
    ("[services]\ndata_dri = 'x'\n", "[services].data_dri is not a known key", "did you mean data_dir?"),
    ("[services.redis]\npersistant = true\n", "[services].redis.persistant", "did you mean persistent?"),
    ("[servics]\nx = 1\n", "[servics] is not a known section", "did you mean [services]?"),
    ("[services]\nstart = ['nats', 'mysql']\n", '[services].start[1] = "mysql"', "must be one of"),
    ("[processes.engine]\nmodule = 'oms.procs.engine'\ncore = -1\n", "[processes].engine.core = -1", ">= 0"),
    ("[processes.engine]\ncore = 1\n", "[processes].engine.module is missing", "add `module = ...`"),
    (
        "[processes.engine]\nmodule = 'oms.procs.engine'\ncores = 1\n",
        "[processes].engine.cores",
        "did you mean core?",
    ),
    ("[logging]\nlevel = 'LOUD'\n", '[logging].level = "LOUD"', "must be one of DEBUG"),
    (
        "[ports]\ngateway = 9000\nsim_binance = 9000\n",
        "[ports].sim_binance = 9000",
        "must differ from gateway",
    ),
    ("[node]\nshm_prefix = 'Bad Prefix'\n", '[node].shm_prefix = "Bad Prefix"', "must be 1-16 chars"),
    (
        "[services.nats]\nmax_file_store = 'lots'\n",
        '[services].nats.max_file_store = "lots"',
        "size like 256MB",
    ),
    ("[services.postgres]\nfsync = 'yes'\n", '[services].postgres.fsync = "yes"', "must be true or false"),
    ("node = 3\n", "[node] must be a table", "not 3"),
    ("[monitor]\nport = -3\n", "[monitor].port = -3", "must be"),  # another room's section, discovered
]


@pytest.mark.parametrize(("text", "names", "fix"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_oms_toml_names_file_key_value_fix(tmp_path: Path, text: str, names: str, fix: str) -> None:
    msg = error_of(project(tmp_path, text))
    assert msg.startswith(str(tmp_path / "configs" / "oms.toml")) or "configs/oms.toml" in msg
    assert names in msg
    assert fix in msg


BAD_EXCHANGE = [
    ('venue = "binanse"\nmarket = "spot"\nrest_url = "https://x"\nws_url = "wss://y"\n', 'venue = "binanse"'),
    (GOOD_EXCHANGE + '[fees]\nmaker = "0.5"\n', 'fees.maker = "0.5"'),
    (
        GOOD_EXCHANGE + '[[rate_limits]]\nkind = "weight"\ninterval_s = 60\nlimit = 5\n',
        'rate_limits[0].kind = "weight"',
    ),
    (
        GOOD_EXCHANGE + '[[rate_limits]]\nkind = "orders"\ninterval_s = 0\nlimit = 5\n',
        "rate_limits[0].interval_s = 0",
    ),
    (
        GOOD_EXCHANGE + '[[rate_limits]]\nkind = "orders"\ninterval_s = 1\nlimit = 5\nscope = "planet"\n',
        'rate_limits[0].scope = "planet" must be one of "ip", "account", "connection"',
    ),
    ('venue = "binance"\nmarket = "spot"\nws_url = "wss://y"\n', "rest_url is missing"),
    (GOOD_EXCHANGE.replace("https://api.binance.com", "ftp://x"), 'rest_url = "ftp://x"'),
    (GOOD_EXCHANGE + "[credentials]\nrequired = true\n", 'credentials.key = ""'),
    (
        GOOD_EXCHANGE + '[credentials]\napi_key = "abc"\n',
        "credentials.api_key is not a known key; did you mean key?",
    ),
    (GOOD_EXCHANGE + '[credentials]\nkey = "bybit_linear"\n', 'credentials.key = "bybit_linear" must be'),
    (GOOD_EXCHANGE + '[credentials]\nkey = "Binance Spot"\n', "secret/exchanges/<key>"),
    (GOOD_EXCHANGE + 'symbols = ["btcusdt"]\n', 'symbols[0] = "btcusdt"'),
    (GOOD_EXCHANGE.replace('market = "spot"', 'market = "perp"'), 'market = "perp"'),
]


@pytest.mark.parametrize(("text", "names"), BAD_EXCHANGE, ids=[b[1][:40] for b in BAD_EXCHANGE])
def test_bad_exchange_file_names_file_and_key(tmp_path: Path, text: str, names: str) -> None:
    msg = error_of(project(tmp_path, "", {"binance_spot": text}))
    assert "exchanges/binance_spot.toml: " in msg
    assert names in msg


def test_exchange_file_name_must_match_venue(tmp_path: Path) -> None:
    msg = error_of(project(tmp_path, "", {"bybit_spot": GOOD_EXCHANGE}))
    assert 'bybit_spot.toml: venue = "binance" must match the file name bybit_spot.toml' in msg


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    msg = error_of(
        project(
            tmp_path,
            "[logging]\nlevel = 'LOUD'\n[services.nats]\nport = -1\n",
            {"binance_spot": GOOD_EXCHANGE + "recv_window_ms = 0\n"},
        )
    )
    assert msg.startswith("3 problems in the configuration")
    for key in ("[logging].level", "[services].nats.port = -1", "recv_window_ms = 0"):
        assert key in msg


def test_invalid_toml_names_line(tmp_path: Path) -> None:
    assert "not valid TOML" in error_of(project(tmp_path, "[node\n")) and "line 1" in error_of(
        project(tmp_path / "b", "[node\n")
    )


def test_missing_explicit_path_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="OMS_CONFIG"):
        load(None, env={"OMS_CONFIG": str(tmp_path / "nope.toml")})


def test_env_overrides_apply(tmp_path: Path) -> None:
    path = project(tmp_path, "[services.nats]\nport = 1\n", {"binance_spot": GOOD_EXCHANGE})
    env = {
        "OMS_SERVICES__NATS__PORT": "4222",
        "OMS_LOGGING__JSON": "true",
        "OMS_LOGGING__LEVEL": "DEBUG",  # not TOML: taken as a string
        "OMS_PROCESSES__CONN_BINANCE__CORE": "1",
        "OMS_EXCHANGES__BINANCE_SPOT__REST_URL": "http://127.0.0.1:9001",
        "OMS_NO_SPIN": "1",  # no "__": not an override, ignored
    }
    cfg = load(path, env=env)
    assert cfg.section("services").nats.port == 4222
    assert cfg.logging.json is True and cfg.logging.level == "DEBUG"
    assert cfg.processes["conn-binance"].core == 1 and cfg.processes["engine"].core == 2
    assert cfg.exchanges["binance_spot"].rest_url == "http://127.0.0.1:9001"
    assert cfg.overrides["OMS_SERVICES__NATS__PORT"] == "services.nats.port"


def test_config_file_from_env(tmp_path: Path) -> None:
    path = project(tmp_path, "[node]\nname = 'box-7'\n")
    assert load(None, env={"OMS_CONFIG": str(path)}).node.name == "box-7"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (
            {"OMS_SERVICES__NATS__PORT": "-5"},
            "OMS_SERVICES__NATS__PORT (environment): [services].nats.port = -5",
        ),
        ({"OMS_SERVICES__NATS__PORT": "abc"}, '[services].nats.port = "abc" must be an integer'),
        ({"OMS_LOGGING__LEVL": "x"}, "OMS_LOGGING__LEVL (environment): [logging].levl is not a known key"),
        ({"OMS_RISKY__X": "1"}, "OMS_RISKY__X: no config section [risky]"),
        (
            {"OMS_EXCHANGES__KRAKEN_SPOT__REST_URL": "x"},
            "OMS_EXCHANGES__KRAKEN_SPOT__REST_URL: no exchange file",
        ),
        (
            {"OMS_EXCHANGES__BINANCE_SPOT__REST_URL": "gopher://"},
            'OMS_EXCHANGES__BINANCE_SPOT__REST_URL (environment): rest_url = "gopher://"',
        ),
    ],
)
def test_bad_env_override_names_the_variable(tmp_path: Path, env: dict[str, str], names: str) -> None:
    msg = error_of(project(tmp_path, "", {"binance_spot": GOOD_EXCHANGE}), env)
    assert names in msg


def test_unknown_section_lookup_is_clear() -> None:
    cfg = load(ROOT / "configs" / "oms.toml", env={})
    with pytest.raises(ConfigError, match=r"no config section \[servces\]; did you mean services"):
        cfg.section("servces")


def test_config_check_prints_parseable_resolved_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project(tmp_path, "[services.openbao]\nroot_token = 'very-secret-token'\n")
    shutil.copy(ROOT / "configs/exchanges/binance_spot.toml", path.parent / "exchanges")
    assert oms_main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "very-secret-token" not in out
    body = tomllib.loads(out)  # comments (#) are ignored, the rest is TOML
    assert body["services"]["openbao"]["root_token"] == "***"
    assert body["processes"]["engine"]["core"] == 2
    assert body["exchanges"]["binance_spot"]["fees"]["maker"] == "0.001"
    assert "# OK: configuration is valid" in out


def test_config_check_bad_exits_2_naming_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project(tmp_path, "[services.nats]\nport = 70000\n")
    assert oms_main(["config", "check", str(path)]) == 2
    assert "[services].nats.port = 70000 must be 0..65535" in capsys.readouterr().err


def test_every_discovered_section_defaults_are_valid() -> None:
    """Contract across rooms: each `oms/<room>/settings.py` Settings() passes its own validate()."""
    from oms.config import discover

    specs, _broken = discover()  # a room whose module does not import is warned about by load()
    assert {"node", "logging", "processes", "ports", "services"} <= set(specs)
    for name, spec in specs.items():
        if spec.validate is not None:
            assert spec.validate(spec.default()) == [], f"[{name}] defaults fail {spec.module}.validate"


def test_core_sections_and_an_unknown_array_table(tmp_path: Path) -> None:
    from oms.config.loader import _builtin

    assert set(_builtin()) == {"node", "logging", "processes", "ports"}  # a room reusing one is refused
    msg = error_of(project(tmp_path, "[node]\nexchanges_dir = 'nowhere'\n[[node.x]]\n"))
    assert "[node].x is not a known key" in msg
