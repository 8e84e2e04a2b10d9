"""The default --keep-fp32: found by name in every variant, replaced by the user's list."""

import pytest

from edgeir.export.sensitive import keep_fp32, sensitive_scopes
from edgeir.models import create_model
from edgeir.models.registry import VARIANTS


def _graph_names(variant):
    """Node-name scopes as the ONNX exporter writes them (``layers.3`` -> ``layers/layers.3``)."""
    names = []
    for name, _ in create_model(variant).named_modules():
        parts = name.split(".")
        scope, i = [], 0
        while i < len(parts):
            if i + 1 < len(parts) and parts[i + 1].isdigit():
                scope.append(f"{parts[i]}.{parts[i + 1]}" if i == 0 else f"{parts[i]}/{parts[i]}.{parts[i + 1]}")
                i += 2
            else:
                scope.append(parts[i])
                i += 1
        names.append("/" + "/".join(scope) + "/Conv")
    return names


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_last_full_resolution_decoder_module_in_every_variant(variant):
    names = _graph_names(variant)
    (scope,) = sensitive_scopes(names)
    assert scope.startswith("/Decoder.2/layers/layers.") and scope.endswith("/main/main.1")
    assert any(n.startswith(scope + "/") for n in names)
    later = int(scope.split("layers.")[1].split("/")[0]) + 1
    assert not any(n.startswith(f"/Decoder.2/layers/layers.{later}/") for n in names)


def test_user_list_replaces_the_default():
    default = sensitive_scopes(["/Decoder.2/layers/layers.3/main/main.1/convs.0/Conv", "/Encoder.0/x/Conv"])
    assert default == ["/Decoder.2/layers/layers.3/main/main.1"]
    assert keep_fp32(None, default) == default
    assert keep_fp32(["/Encoder.0"], default) == ["/Encoder.0"]
    assert keep_fp32(["none"], default) == []
    assert sensitive_scopes(["/Encoder.0/x/Conv"]) == []
