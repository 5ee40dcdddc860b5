from p2pmarket import config


def test_home_order_flag_then_env_then_platform(tmp_path):
    env = {"P2PMARKET_HOME": str(tmp_path / "env")}
    assert config.resolve(home=tmp_path / "flag", env=env).home == tmp_path / "flag"
    assert config.resolve(env=env).home == tmp_path / "env"
    assert config.resolve(env={}).home == config.default_home()
    assert "p2pmarket" in str(config.default_home())


def test_db_url_order_flag_then_env_then_home(tmp_path):
    env = {"P2PMARKET_HOME": str(tmp_path), "P2PMARKET_DB": "sqlite:////elsewhere.db"}
    assert config.resolve(db="sqlite:////flag.db", env=env).db_url == "sqlite:////flag.db"
    assert config.resolve(env=env).db_url == "sqlite:////elsewhere.db"
    plain = config.resolve(env={"P2PMARKET_HOME": str(tmp_path)})
    assert plain.db_url == f"sqlite:///{tmp_path / 'market.db'}"
    assert plain.sqlite_path == tmp_path / "market.db"
    assert plain.backup_dir == tmp_path / "backups"


def test_now_pins_the_clock():
    clock = config.clock_from_env({"P2PMARKET_NOW": "2026-11-01T00:00:00"})
    assert clock.now() == 1793491200
    assert isinstance(config.clock_from_env({}).now(), int)


def test_a_password_in_the_db_url_is_never_shown(tmp_path):
    cfg = config.resolve(home=tmp_path, db="postgresql+psycopg://market:s3cret@db.example/market")
    assert "s3cret" not in cfg.shown_db_url and "***" in cfg.shown_db_url
    plain = config.resolve(home=tmp_path, env={})
    assert plain.shown_db_url == f"sqlite:///{tmp_path / 'market.db'}"
