"""Packaging checks on the host: `make install`, the systemd units, the man pages and the .deb.

FIBD_BINARY is the fibd to install and ask for --help (default .build/debug/fibd); FIBD_DEB the package
to inspect (default .build/deb/fibd.deb; its tests are skipped when there is none, `make packaging-test`
builds it first).
"""

import gzip
import io
import os
import re
import shutil
import subprocess
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("FIBD_BINARY", os.path.join(ROOT, ".build", "debug", "fibd"))
DEB = os.environ.get("FIBD_DEB", os.path.join(ROOT, ".build", "deb", "fibd.deb"))
FIBD_8 = os.path.join(ROOT, "man", "fibd.8")
FIBD_CONF_5 = os.path.join(ROOT, "man", "fibd.conf.5")
COMMAND_TIMEOUT = 120


def run(*args, **kwargs):
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False, **kwargs
    )


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`make install` into a prefix of its own (PREFIX, SYSCONFDIR), so that the units point at a real binary."""
    prefix = tmp_path_factory.mktemp("prefix")
    result = run(
        "make", "--no-print-directory", "-C", ROOT, "install-files",
        f"PREFIX={prefix}", f"SYSCONFDIR={prefix}/etc", f"INSTALL_BINARY={BINARY}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return prefix


def help_options():
    """{option: default or None} from `fibd --help`, in order."""
    result = run(BINARY, "--help")
    assert result.returncode == 0, result.stderr
    options = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^\s+(--[a-z][a-z-]*)\b(.*)$", line)
        if match:
            default = re.search(r"\(default: ([^)]*)\)\s*$", match.group(2))
            options[match.group(1)] = default.group(1) if default else None
    assert "--workers" in options and "--help" in options, result.stdout
    return options


def section(text, name):
    """The body of one .Sh section of an mdoc page."""
    match = re.search(r"^\.Sh " + re.escape(name) + r"\n(.*?)(?=^\.Sh |\Z)", text, re.S | re.M)
    assert match, f"no section {name}"
    return match.group(1)


def tagged_items(body, pattern):
    """{name: the item's text up to the next .It} for the .It lines of a list that match pattern."""
    items = {}
    parts = re.split(r"^(?=\.It )", body, flags=re.M)
    for part in parts:
        match = re.match(pattern, part)
        if match:
            items[match.group(1)] = part
    return items


# --- make install ---------------------------------------------------------------------------------


def test_install_puts_every_file_in_place(installed):
    expected = {
        "bin/fibd": 0o755,
        "lib/systemd/system/fibd.socket": 0o644,
        "lib/systemd/system/fibd.service": 0o644,
        "share/man/man8/fibd.8": 0o644,
        "share/man/man5/fibd.conf.5": 0o644,
        "etc/fibd/fibd.conf": 0o644,
    }
    for path, mode in expected.items():
        full = installed / path
        assert full.is_file(), path
        assert full.stat().st_mode & 0o777 == mode, path
    service = (installed / "lib/systemd/system/fibd.service").read_text()
    assert f"ExecStart={installed}/bin/fibd --config {installed}/etc/fibd/fibd.conf " in service


def test_install_keeps_an_edited_config_file(installed, tmp_path):
    prefix = tmp_path / "again"
    shutil.copytree(installed, prefix, symlinks=True)
    conf = prefix / "etc/fibd/fibd.conf"
    conf.write_text("workers = 3\n")
    result = run(
        "make", "--no-print-directory", "-C", ROOT, "install-files",
        f"PREFIX={prefix}", f"SYSCONFDIR={prefix}/etc", f"INSTALL_BINARY={BINARY}",
    )
    assert result.returncode == 0, result.stderr
    assert conf.read_text() == "workers = 3\n"


# --- the units ------------------------------------------------------------------------------------


def test_units_verify_without_a_single_warning(installed):
    units = installed / "lib/systemd/system"
    # systemd-analyze runs `man` for every Documentation= page: find ours where they were installed.
    environment = dict(os.environ, MANPATH=f"{installed}/share/man:")
    result = run(
        "systemd-analyze", "verify", str(units / "fibd.socket"), str(units / "fibd.service"), env=environment
    )
    # Unknown keys and bad values only warn (exit 0), so any output at all fails.
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result.stdout + result.stderr


def test_service_exposure_is_at_most_one(installed):
    service = installed / "lib/systemd/system/fibd.service"
    result = run("systemd-analyze", "security", "--offline=true", "--no-pager", str(service))
    match = re.search(r"Overall exposure level for fibd\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 1.0, result.stdout


def test_units_say_what_the_issue_asks():
    socket = read(os.path.join(ROOT, "packaging", "fibd.socket"))
    service = read(os.path.join(ROOT, "packaging", "fibd.service"))
    for line in ("ListenStream=127.0.0.1:8787", "ListenStream=[::1]:8787", "FileDescriptorName=http",
                 "IPAddressAllow=localhost", "Documentation=man:fibd(8)", "WantedBy=sockets.target"):
        assert line in socket.splitlines() or line in socket, line
    for line in ("Type=notify", "NotifyAccess=main", "Restart=on-failure", "OOMPolicy=continue", "KillMode=mixed",
                 "DynamicUser=yes", "StateDirectory=fibd", "ConfigurationDirectory=fibd", "RuntimeDirectory=fibd",
                 "ExecReload=/bin/kill -HUP $MAINPID",
                 "ExecStart=/usr/bin/fibd --config /etc/fibd/fibd.conf --state-dir ${STATE_DIRECTORY}"):
        assert line in service.splitlines(), line
    for key in ("WatchdogSec=", "TimeoutStopSec=", "LimitNOFILE="):
        assert re.search("^" + key + r"\S+", service, re.M), key


def test_stop_timeout_leaves_room_for_the_drain_timeout():
    service = read(os.path.join(ROOT, "packaging", "fibd.service"))
    stop = int(re.search(r"^TimeoutStopSec=(\d+)s$", service, re.M).group(1))
    drain = help_options().get("--drain-timeout")
    assert drain is not None, "fibd --help lists no --drain-timeout with a default"
    assert float(drain) < stop


# --- the man pages --------------------------------------------------------------------------------


def lint(*pages, manpath):
    """mandoc -Tlint at its strictest, cross references checked along our pages and then the system's."""
    result = run("mandoc", "-Tlint", "-W", "style", "-M", f"{manpath}:/usr/share/man", *pages)
    # Debian keeps no mandoc.db under /usr/share/man (man-db is its man), so mandoc finds a referenced page
    # by its file and says so; that notice is about the system's index, not a finding on our page.
    output = [line for line in (result.stdout + result.stderr).splitlines()
              if not re.match(r"mandoc: outdated mandoc\.db lacks \S+ entry, run makewhatis /usr/share/man$", line)]
    return result.returncode, output


def test_man_pages_lint_clean(tmp_path):
    for page, section_dir in ((FIBD_8, "man8"), (FIBD_CONF_5, "man5")):
        (tmp_path / section_dir).mkdir(exist_ok=True)
        shutil.copy(page, tmp_path / section_dir)
    assert run("makewhatis", str(tmp_path)).returncode == 0
    returncode, output = lint(FIBD_8, FIBD_CONF_5, manpath=tmp_path)
    assert returncode == 0 and output == [], "\n".join(output)


def test_lint_would_catch_a_missing_page(tmp_path):
    page = tmp_path / "bad.8"
    page.write_text(read(FIBD_8).replace(".Xr fibd.conf 5 ,", ".Xr no-such-page 5 ,"))
    returncode, output = lint(str(page), manpath=tmp_path)
    assert returncode != 0 and any("referenced manual not found: Xr no-such-page 5" in line for line in output)


def test_every_option_of_help_is_in_fibd_8_and_the_other_way_round():
    options = help_options()
    items = tagged_items(section(read(FIBD_8), "OPTIONS"), r"\.It Fl Fl ([a-z][a-z-]*)")
    documented = {"--" + name for name in items}
    assert set(options) - documented == set(), "in --help, not in fibd(8)"
    assert documented - set(options) == set(), "in fibd(8), not in --help"
    for option, default in options.items():
        if default is not None:
            assert f"Default: {default}." in items[option[2:]], f"fibd(8) gives another default for {option}"


def test_every_setting_is_in_fibd_conf_5_and_the_example_file():
    settings = {option[2:] for option in help_options()} - {"config", "help", "version"}
    items = tagged_items(section(read(FIBD_CONF_5), "SETTINGS"), r"\.It Cm ([a-z][a-z-]*) No =")
    assert set(items) == settings
    example = read(os.path.join(ROOT, "packaging", "fibd.conf"))
    shown = set(re.findall(r"^#([a-z][a-z-]*) =", example, re.M))
    assert shown <= settings, "the example file shows settings fibd does not take"
    assert settings - shown == {"listen", "state-dir"}, "the example file misses settings"


def test_example_file_lines_are_all_comments_or_settings():
    for line in read(os.path.join(ROOT, "packaging", "fibd.conf")).splitlines():
        assert line == "" or line.startswith("#"), line


def test_fibd_8_lists_every_problem_type():
    slugs = set()
    for directory, _, files in os.walk(os.path.join(ROOT, "Sources", "FibServer")):
        for name in files:
            if name.endswith(".swift"):
                for line in read(os.path.join(directory, name)).splitlines():
                    if "slug:" in line:
                        slugs.update(re.findall(r'"([a-z]+(?:-[a-z]+)+)"', line))
    assert "task-not-found" in slugs and "task-timed-out" in slugs
    listed = set(re.findall(r"^\.It Cm ([a-z][a-z-]*)$", section(read(FIBD_8), "API"), re.M))
    assert slugs - listed == set(), "problem types missing from fibd(8)"


def test_fibd_8_lists_every_message_id():
    catalog = read(os.path.join(ROOT, "Sources", "FibSystemd", "MessageCatalog.swift"))
    ids = set(re.findall(r'static let \w+ = "([0-9a-f]{32})"', catalog))
    assert len(ids) >= 10
    listed = set(re.findall(r"^\.It ([0-9a-f]{32})$", section(read(FIBD_8), "LOGGING"), re.M))
    assert ids == listed


def test_fibd_8_has_every_section():
    sections = re.findall(r"^\.Sh (.+)$", read(FIBD_8), re.M)
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "API", "SIGNALS", "ENVIRONMENT", "FILES",
                 "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert name in sections, name
    environment = section(read(FIBD_8), "ENVIRONMENT")
    for variable in ("NOTIFY_SOCKET", "LISTEN_FDS", "STATE_DIRECTORY", "JOURNAL_STREAM", "FIBD_"):
        assert variable in environment, variable


# --- the .deb -------------------------------------------------------------------------------------


def deb_field(field):
    result = run("dpkg-deb", "-f", DEB, field)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


needs_deb = pytest.mark.skipif(not os.path.exists(DEB), reason=f"no package at {DEB} (make deb)")


@needs_deb
def test_deb_holds_binary_units_man_pages_and_conffile():
    listing = run("dpkg-deb", "-c", DEB).stdout
    for path in ("./usr/bin/fibd", "./lib/systemd/system/fibd.socket", "./lib/systemd/system/fibd.service",
                 "./usr/share/man/man8/fibd.8.gz", "./usr/share/man/man5/fibd.conf.5.gz", "./etc/fibd/fibd.conf"):
        assert re.search(r" " + re.escape(path) + r"$", listing, re.M), path
    for line in listing.splitlines():
        assert " root/root " in line, line
    extracted = subprocess.run(["dpkg-deb", "--ctrl-tarfile", DEB], capture_output=True, timeout=COMMAND_TIMEOUT,
                               check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(extracted)) as archive:
        names = {member.name.lstrip("./"): member for member in archive.getmembers()}
        conffiles = archive.extractfile(names["conffiles"]).read().decode().split()
        for script in ("postinst", "prerm", "postrm"):
            assert names[script].mode & 0o111, script
    assert conffiles == ["/etc/fibd/fibd.conf"]


@needs_deb
def test_deb_man_pages_are_the_sources(tmp_path):
    result = subprocess.run(["dpkg-deb", "-x", DEB, str(tmp_path)], capture_output=True, timeout=COMMAND_TIMEOUT)
    assert result.returncode == 0, result.stderr
    with gzip.open(tmp_path / "usr/share/man/man8/fibd.8.gz", "rt") as page:
        assert page.read() == read(FIBD_8)
    service = (tmp_path / "lib/systemd/system/fibd.service").read_text()
    assert service == read(os.path.join(ROOT, "packaging", "fibd.service"))


@needs_deb
def test_deb_depends_are_the_libraries_the_binary_loads(tmp_path):
    subprocess.run(["dpkg-deb", "-x", DEB, str(tmp_path)], check=True, timeout=COMMAND_TIMEOUT)
    binary = str(tmp_path / "usr/bin/fibd")
    dynamic = run("readelf", "-d", binary).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    assert needed, dynamic
    assert not [name for name in needed if name.startswith("libswift")], "the Swift runtime must be linked in"
    # Where the loader finds each library, and which installed package owns that file.
    loader = run("ldd", binary).stdout
    resolved = dict(re.findall(r"^\s+(\S+) => (/\S+)", loader, re.M))
    # The dynamic loader itself is listed by its path alone.
    resolved.update({os.path.basename(path): path for path in re.findall(r"^\s+(/\S+) \(", loader, re.M)})
    owners = set()
    for name in needed:
        assert name in resolved, f"{name} not found by ldd"
        path = os.path.realpath(resolved[name])
        owner = None
        for candidate in (resolved[name], path, path.replace("/usr/lib/", "/lib/", 1), "/usr" + path):
            result = run("dpkg", "-S", candidate)
            if result.returncode == 0:
                owner = result.stdout.split(":")[0]
                break
        assert owner, f"no package owns {resolved[name]}"
        owners.add(owner)
    depends = {re.split(r"[\s(]", alternative.strip())[0]
               for entry in deb_field("Depends").split(",") for alternative in entry.split("|")}
    assert owners == depends, f"Depends {sorted(depends)} but the binary loads libraries of {sorted(owners)}"
    for package in ("libgmp10", "libsqlite3-0", "libc6"):
        assert package in depends
    # fibd deflates with the zlib copy inside swift-nio-extras; the system's libz, which that package also asks
    # to link, is left out (--as-needed in Package.swift), and with it dpkg-shlibdeps's "useless dependency".
    assert "libz.so.1" not in needed and "zlib1g" not in depends, (needed, depends)
