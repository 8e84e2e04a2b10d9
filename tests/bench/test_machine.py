"""The machine description: CPU features and Jetson facts read from the files Linux and
L4T provide (faked here, so each case runs on any machine)."""

from edgeir.bench import machine


def _files(monkeypatch, files):
    monkeypatch.setattr(machine, "_read", lambda path: files.get(path))


def test_cpu_features_from_x86_and_arm_cpuinfo(monkeypatch):
    _files(monkeypatch, {"/proc/cpuinfo": "processor : 0\nflags : fpu sse4_2 avx2 fma avx512f avx512_bf16\n"
                                          "processor : 1\nflags : fpu sse4_2 avx2 fma avx512f avx512_bf16\n"})
    assert machine.cpu_features() == ["avx2", "fma", "avx512f", "avx512_bf16"]
    _files(monkeypatch, {"/proc/cpuinfo": "processor : 0\nFeatures : fp asimd evtstrm asimdhp cpuid\n"})
    assert machine.cpu_features() == ["asimd", "asimdhp"]
    _files(monkeypatch, {})
    assert machine.cpu_features() is None


def test_jetson_model_and_l4t_release(monkeypatch):
    _files(monkeypatch, {"/proc/device-tree/model": "NVIDIA Jetson Orin Nano Developer Kit",
                         "/etc/nv_tegra_release": "# R36 (release), REVISION: 4.0, GCID: 1\nmore"})
    monkeypatch.setattr(machine, "jetpack_version", lambda: "6.2+b77")
    assert machine.jetson() == {"model": "NVIDIA Jetson Orin Nano Developer Kit",
                                "l4t": "# R36 (release), REVISION: 4.0, GCID: 1", "jetpack": "6.2+b77"}
    _files(monkeypatch, {"/proc/device-tree/model": "Raspberry Pi 5"})
    assert machine.jetson() is None
