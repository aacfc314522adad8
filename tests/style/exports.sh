#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Style check 4, exported symbols: the plugin is dlopen'd into a VMM, so it
# must export nothing but its entry point (a stray global could bind to the
# VMM's own symbol of that name), and the core's global names all carry the
# project's prefix so they cannot clash with lwIP, libevent, jansson or a
# program that links the core statically (the unit tests).
#
# Rules:
#   - `nm -g --defined-only CORE_A` lists only names starting msb_ or
#     msbnet_ (an ASan build adds an "__odr_asan.NAME" indicator per global
#     NAME; it passes when NAME does);
#   - `nm -D --defined-only PLUGIN_SO` lists exactly msbnet_get_api.
#
# Usage: exports.sh CORE_A PLUGIN_SO   (ctest passes the paths of the
# msbnet_core and msbnet targets; exit 1 on any violation, each printed as
# path:line: what is wrong, where line is 0: a binary has no lines)
set -euo pipefail
core=${1:?usage: exports.sh CORE_A PLUGIN_SO}
plugin=${2:?usage: exports.sh CORE_A PLUGIN_SO}
bad=0

# The core: every defined global, with the member it comes from.
core_syms=$(nm -g --defined-only -A "$core")
while read -r where _ name; do
    [[ $name =~ ^(__odr_asan\.)?(msb_|msbnet_) ]] && continue
    member=${where#"$core":}
    echo "$core(${member%:*}):0: global symbol '$name' lacks the msb_/msbnet_ prefix (make it static or rename it)"
    bad=1
done < <(awk 'NF == 3' <<<"$core_syms")
[[ -n $core_syms ]] || { echo "$core:0: no defined global symbol at all (not the core library?)"; bad=1; }

# The plugin: the dynamic symbol table is exactly the entry point.
exported=$(nm -D --defined-only "$plugin" | awk '{print $NF}' | sort | paste -sd' ')
if [[ $exported != msbnet_get_api ]]; then
    echo "$plugin:0: exports '$exported'; must export exactly msbnet_get_api"
    bad=1
fi
exit $bad
