#!/usr/bin/env bash
# Mechanical style checks (STYLE.md §3), run as a meson test (suite `unit`) and by hand:
#   tools/check-style.sh [BUILD_DIR]
# Fails on: lines over 100 columns (tabs count 8), C++ comments, banned functions (strcpy,
# strcat, sprintf, vsprintf, gets, atoi, atol, strtok), exported symbols without the sp_
# prefix in the subsystem libraries (needs BUILD_DIR). Warns on functions over 70 lines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-}
exec /usr/bin/python3 - "$root" "$build" <<'PY'
import os, re, subprocess, sys

root, build = sys.argv[1], sys.argv[2]
dirs = ["common", "dataplane", "control", "nvme", "include", "tools", "tests/unit", "tests/fuzz"]
banned = re.compile(r"\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok)\s*\(")
errors, warnings = [], []

def strip_strings(line):
    return re.sub(r'"(\\.|[^"\\])*"', '""', line)

for d in dirs:
    for dp, subdirs, files in os.walk(os.path.join(root, d)):
        # third-party trees fetched by the setup scripts (npm) are not ours to style
        subdirs[:] = [s for s in subdirs if s != "node_modules"]
        for f in sorted(files):
            if not f.endswith((".c", ".h", ".def")):
                continue
            path = os.path.join(dp, f)
            rel = os.path.relpath(path, root)
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().split("\n")
            fn_start, fn_name = None, None
            for i, line in enumerate(lines, 1):
                if len(line.expandtabs(8)) > 100:
                    errors.append(f"{rel}:{i}: longer than 100 columns")
                code = strip_strings(line)
                if "//" in code and "://" not in code:
                    errors.append(f"{rel}:{i}: C++ comment")
                if banned.search(code):
                    errors.append(f"{rel}:{i}: banned function: {banned.search(code).group(1)}")
                # Function length: a definition opens with '{' alone at column 0.
                if line == "{" and i >= 2:
                    j = i - 2
                    while j > 0 and not re.match(r"^[a-z_][a-z0-9_]*\(", lines[j]):
                        j -= 1
                    fn_start, fn_name = i, lines[j].split("(")[0]
                elif line == "}" and fn_start is not None:
                    n = i - fn_start
                    if n > 70:
                        warnings.append(f"{rel}:{fn_start}: {fn_name}() is {n} lines (> 70)")
                    fn_start = None

if build:
    # Sanitizer builds add their own globals (__odr_asan.*, __asan_*): not ours to name.
    allowed = re.compile(r"^(sp_|g_sp_|LLVMFuzzer|main$|__odr_asan|__asan_|__sancov)")
    for sub in ("common", "dataplane", "control"):
        bdir = os.path.join(build, sub)
        if not os.path.isdir(bdir):
            continue
        for f in sorted(os.listdir(bdir)):
            if not (f.startswith("libsp_") and f.endswith(".a")):
                continue
            out = subprocess.run(["nm", "-g", "--defined-only", os.path.join(bdir, f)],
                                 capture_output=True, text=True, check=True).stdout
            for ln in out.splitlines():
                parts = ln.split()
                if len(parts) == 3 and parts[1] in "TDBR" and not allowed.match(parts[2]):
                    errors.append(f"{sub}/{f}: exported symbol without sp_ prefix: {parts[2]}")

for w in warnings:
    print("warning:", w)
for e in errors:
    print("error:", e)
print(f"check-style: {len(errors)} error(s), {len(warnings)} warning(s)")
sys.exit(1 if errors else 0)
PY
