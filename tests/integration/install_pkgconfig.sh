#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What a VMM author gets from `cmake --install`: the plugin, the header,
# msbnetd/msbnetctl, a relocatable msbnet.pc and the example's source.
# Installs into a fresh prefix, then builds two programs only from what
# pkg-config says: one linked with `pkg-config --libs msbnet` that also
# dlopens the plugin named by `--variable=plugin` (the same table must come
# back both ways), and the installed example VMM.
#   usage: install_pkgconfig.sh BUILD_DIR C_COMPILER PROJECT_VERSION [EXTRA_CFLAGS]
# EXTRA_CFLAGS: the sanitizer flags of a sanitizer build, so the programs
# load the sanitized plugin.
set -uo pipefail
build=$(realpath "${1:?usage: install_pkgconfig.sh BUILD_DIR CC VERSION [CFLAGS]}")
cc=${2:?C compiler}
version=${3:?project version}
extra=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/checks.sh"
for tool in pkg-config cmake nm "$cc"; do
    command -v "$tool" >/dev/null || { echo "FAIL missing $tool (install pkg-config / cmake / binutils / gcc)"; exit 1; }
done

prefix=$(mktemp -d /tmp/msbnet-install.XXXXXX)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$prefix"' EXIT
if ! out=$(cmake --install "$build" --prefix "$prefix" 2>&1); then
    echo "FAIL cmake --install: $out"
    exit 1
fi
ok cmake_install

# The library directory GNUInstallDirs picked (lib, lib64 or lib/<triplet>).
pc=$(find "$prefix" -name msbnet.pc -path '*/pkgconfig/*' | head -1)
if [[ -n $pc ]]; then ok pc_installed; else bad pc_installed "no msbnet.pc under $prefix"; checks_done; exit; fi
libdir=$(dirname "$(dirname "$pc")")
for f in "$libdir/libmsbnet.so.1" "$libdir/libmsbnet.so" "$prefix/include/msbnet/msbnet.h" \
    "$prefix/bin/msbnetd" "$prefix/bin/msbnetctl"; do
    if [[ -e $f ]]; then ok "installed_${f#"$prefix"/}"; else bad "installed_${f#"$prefix"/}" missing; fi
done
example=$(find "$prefix" -name vmm_tap.c | head -1)
if [[ -n $example ]]; then ok example_source_installed; else bad example_source_installed missing; fi

# Exactly one exported function: the entry point.
syms=$(nm -D --defined-only "$libdir/libmsbnet.so.1" | awk '$2 == "T" {print $3}')
expect one_exported_symbol msbnet_get_api "$syms"
if [[ $(wc -l <<<"$syms") -eq 1 ]]; then ok only_one_exported_symbol; else bad only_one_exported_symbol "$syms"; fi

PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
expect pc_modversion "$version" "$(pkg-config --modversion msbnet 2>&1)"
plugin=$(pkg-config --variable=plugin msbnet)
if [[ -f $plugin && $(realpath "$plugin") == $(realpath "$libdir/libmsbnet.so.1") ]]; then
    ok pc_plugin_variable
else bad pc_plugin_variable "'$plugin'"; fi
expect pc_abi_version 1 "$(pkg-config --variable=abi_version msbnet)"

work=$prefix/work
mkdir -p "$work"
cat >"$work/tiny.c" <<'C'
/* Built only from pkg-config's flags: link against the plugin, and
 * dlopen it by the path the .pc names; both must serve one table. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <msbnet/msbnet.h>

int main(int argc, char **argv)
{
    char err[256] = "";
    const struct msbnet_api_v1 *linked = msbnet_get_api(MSBNET_ABI_VERSION, err, sizeof err);
    void *so = argc > 1 ? dlopen(argv[1], RTLD_NOW | RTLD_LOCAL) : NULL;
    msbnet_get_api_fn get = so ? (msbnet_get_api_fn)dlsym(so, MSBNET_ENTRY_POINT) : NULL;
    const struct msbnet_api_v1 *loaded = get ? get(MSBNET_ABI_VERSION, err, sizeof err) : NULL;
    if (!linked || !loaded || linked != loaded) {
        printf("no api: %s %s\n", err, so ? "" : dlerror());
        return 1;
    }
    msbnet_t *net = loaded->create("{\"slot\": 3}", err, sizeof err);
    char *addrs = net ? loaded->addresses_json(net) : NULL;
    printf("version %s abi %u size %u %s\n", loaded->version(), loaded->abi_version,
           loaded->struct_size, addrs ? addrs : err);
    int rc = net && addrs && strstr(addrs, "100.96.0.13") ? 0 : 1;
    loaded->free_string(addrs);
    loaded->destroy(net);
    return rc;
}
C
# shellcheck disable=SC2046,SC2086
if out=$("$cc" -std=c11 -Wall -Wextra -Werror $extra $(pkg-config --cflags msbnet) \
    -o "$work/tiny" "$work/tiny.c" $(pkg-config --libs msbnet) -ldl 2>&1); then
    ok tiny_program_builds_from_pkg_config
else bad tiny_program_builds_from_pkg_config "$out"; fi
out=$(LD_LIBRARY_PATH=$libdir "$work/tiny" "$plugin" 2>&1)
expect tiny_program_links_and_dlopens "version $version abi 1" "$out"
expect tiny_program_creates_instance '"gateway_ipv4":"100.96.0.13"' "$out"

# shellcheck disable=SC2046,SC2086
if out=$("$cc" -std=c11 -Wall -Wextra -Werror $extra $(pkg-config --cflags msbnet) \
    -o "$work/example-vmm" "$example" -ldl 2>&1); then
    ok installed_example_builds
else bad installed_example_builds "$out"; fi
expect installed_example_runs "usage: msbnet-example-vmm" "$("$work/example-vmm" --help 2>&1)"
# Loading the installed plugin through the example, up to the TAP (none here).
out=$("$work/example-vmm" --plugin "$plugin" --tap-fd 999 2>&1)
expect installed_example_loads_plugin '"gateway_mac"' "$out"

checks_done
