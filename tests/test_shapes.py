import pytest

from edgeir import EdgeIRError
from edgeir.shapes import InputShapes, parse_hw


def test_default_dynamic_range_per_task():
    shapes = InputShapes.dynamic(None, "motion-deblur")
    assert (shapes.min, shapes.opt, shapes.max, shapes.static) == ((256, 256), (736, 1280), (1088, 1920), False)
    assert InputShapes.dynamic(None, "derain").min == (128, 128)


def test_range_forms():
    three = InputShapes.dynamic("256x256:512x512:1024x1024", "dehaze")
    assert (three.min, three.opt, three.max) == ((256, 256), (512, 512), (1024, 1024))
    two = InputShapes.dynamic("256x256:1088x1920", "dehaze")
    assert (two.opt, two.max) == ((1088, 1920), (1088, 1920))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("256x256:250x250:1024x1024", "multiples of 32"),
        ("224x224:1024x1024", "at least 256"),
        ("512x512:256x256:1024x1024", "MIN <= OPT <= MAX"),
        ("256x:512x512", "expected a size like 256x256"),
        ("256x256:512x512:768x768:1024x1024", "MIN:MAX"),
    ],
)
def test_bad_ranges(spec, message):
    with pytest.raises(EdgeIRError, match=message):
        InputShapes.dynamic(spec, "motion-deblur")


def test_static_and_checks():
    shapes = InputShapes.fixed((256, 384), "motion-deblur", batch=2)
    shapes.check(2, 256, 384)
    with pytest.raises(EdgeIRError, match="static 2x3x256x384"):
        shapes.check(1, 256, 384)
    dynamic = InputShapes.dynamic("256x256:512x512", "motion-deblur")
    dynamic.check(3, 256, 512)
    with pytest.raises(EdgeIRError, match="from 256x256 to 512x512"):
        dynamic.check(1, 544, 256)


def test_round_trip():
    shapes = InputShapes.dynamic("256x256:512x768:1024x1024", "desnow", batch=4)
    assert InputShapes.from_dict(shapes.to_dict()) == shapes


def test_one_size_grammar_for_options_and_specs():
    from edgeir.cli import parse_size

    assert parse_hw(" 720x1280 ") == (720, 1280)
    assert parse_hw("256") == (256, 256)  # a square
    assert InputShapes.dynamic("256:512", "motion-deblur").max == (512, 512)
    assert parse_size("256") == parse_hw("256")  # the CLI's --size options parse the same way
    for bad in ("256x", "0x256", "x256", "256*256"):
        with pytest.raises(EdgeIRError, match="expected"):
            parse_hw(bad)


def test_enumerated_sizes():
    shapes = InputShapes.enumerated("736x1280, 256x256,512x512", "motion-deblur")
    assert shapes.mode == "enumerated" and shapes.sizes == ((736, 1280), (256, 256), (512, 512))
    assert (shapes.min, shapes.opt, shapes.max) == ((256, 256), (736, 1280), (736, 1280))
    assert InputShapes.from_dict(shapes.to_dict()) == shapes
    shapes.check(1, 512, 512)
    with pytest.raises(EdgeIRError, match="accepts only the sizes 736x1280, 256x256, 512x512, found 288x288"):
        shapes.check(1, 288, 288)
    assert shapes.fitting(300, 300) == (512, 512)  # the smallest listed size it fits in
    assert shapes.fitting(600, 600) == (736, 1280)
    assert shapes.fitting(800, 800) is None


def test_an_illegal_size_names_the_legal_one_it_pads_to():
    with pytest.raises(EdgeIRError, match=r"^expected size sides that are multiples of 32 and at least 256 for "
                       r"motion-deblur, found 720x1280: use 736x1280 \(frames are padded to it"):
        InputShapes.fixed((720, 1280), "motion-deblur")


@pytest.mark.parametrize(("spec", "message"), [
    ("720x1280,256x256", "listed size 1 sides that are multiples of 32 .* found 720x1280: use 736x1280"),
    ("256x256,224x224", "at least 256"),
    ("256x256,256x256", "distinct sizes"),
    ("256x256", "at least 2 sizes in --sizes \\(one size is --size HxW\\)"),
])
def test_bad_enumerated_sizes(spec, message):
    with pytest.raises(EdgeIRError, match=message):
        InputShapes.enumerated(spec, "motion-deblur")
