import inspect

import llmpipe


def test_all_lists_every_public_name_and_nothing_else():
    public = {
        name
        for name, value in vars(llmpipe).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "logger"
    }
    assert public | {"__version__"} == set(llmpipe.__all__)


def test_every_name_in_all_is_importable():
    for name in llmpipe.__all__:
        assert getattr(llmpipe, name) is not None


def test_package_ships_py_typed_marker():
    from importlib.resources import files

    assert files("llmpipe").joinpath("py.typed").is_file()
