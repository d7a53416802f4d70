from __future__ import annotations

import pytest

from ganbench.errors import ConfigError
from ganbench.registry import Registry


class Base:
    pass


def test_register_get_and_list():
    registry: Registry[type[Base]] = Registry("thing", Base, key="thing.name")

    @registry.register("alpha")
    class Alpha(Base):
        pass

    assert registry.get("alpha") is Alpha
    assert Alpha.name == "alpha"
    assert registry.names() == ["alpha"]
    assert "alpha" in registry and len(registry) == 1


def test_refuses_duplicates_wrong_base_and_bad_names():
    registry: Registry[type[Base]] = Registry("thing", Base)

    @registry.register("alpha")
    class Alpha(Base):
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register("alpha")(type("Other", (Base,), {}))
    with pytest.raises(ValueError, match="must subclass Base"):
        registry.register("beta")(type("NotBase", (), {}))
    with pytest.raises(ValueError, match="lowercase identifier"):
        registry.register("Bad-Name")(type("Other", (Base,), {}))


def test_unknown_name_lists_what_exists_and_suggests():
    registry: Registry[type[Base]] = Registry("loss", Base, key="loss.name")
    for name in ("hinge", "least_squares"):
        registry.register(name)(type(name, (Base,), {}))
    with pytest.raises(ConfigError) as error:
        registry.get("hnge")
    assert str(error.value) == "loss.name: unknown loss 'hnge'; did you mean 'hinge'? available: hinge, least_squares"
