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


def test_jetson_power_mode_and_clocks(monkeypatch, tmp_path):
    monkeypatch.setattr(machine, "_command", lambda *argv: "NV Fan Mode:quiet\nNV Power Mode: MAXN\n0\n")
    assert machine.power_mode() == "MAXN"
    monkeypatch.setattr(machine, "_command", lambda *argv: None)  # no nvpmodel
    assert machine.power_mode() == "unknown"
    frequencies = {"/sys/devices/system/cpu/cpu0/cpufreq/scaling_min_freq": "1984000",
                   "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq": "1984000",
                   "/sys/devices/system/cpu/cpu1/cpufreq/scaling_min_freq": "729600",
                   "/sys/devices/system/cpu/cpu1/cpufreq/cpuinfo_max_freq": "1984000"}
    monkeypatch.setattr(machine.Path, "glob", lambda self, pattern: [machine.Path(f"/sys/devices/system/cpu/cpu{i}")
                                                                       for i in (0, 1)])
    _files(monkeypatch, frequencies)
    assert machine.jetson_clocks() == "off"
    frequencies["/sys/devices/system/cpu/cpu1/cpufreq/scaling_min_freq"] = "1984000"
    assert machine.jetson_clocks() == "on"
    _files(monkeypatch, {})
    assert machine.jetson_clocks() == "unknown"


def test_power_fields_are_unknown_off_a_jetson(monkeypatch):
    monkeypatch.setattr(machine, "jetson", lambda: None)
    described = machine.describe()
    assert described["power_mode"] == described["jetson_clocks"] == "unknown"
