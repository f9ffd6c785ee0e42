#!/usr/bin/env bash
# Builds clgan for a GPU machine that has none of its libraries (issue 10): a
# release build in build-pack/ (no MPI), packed into DIR (default gpu-pack/,
# ignored by git) small enough to travel with the working tree:
#   bin/        clgan, bench_gemm, bench_convt, bench_datamove (stripped)
#   tests/      the test binaries (stripped)
#   lib/        the shared libraries they need beyond glibc, libstdc++ and
#               libgcc_s (found with ldd; the ocl-icd loader libOpenCL.so.1
#               among them); a library over 8 MiB is stored as NAME.gz
#   src/, ext/  what the tests read: the parity fixtures, the DICOM fixtures,
#               the bad-input script and document, cl/ (for CLGAN_KERNEL_DIR);
#               ext/ pydicom's test files
#   tests.json  meson's test list, paths relative to the pack
#   run_tests.py  runs it there: run_tests.py --help (bench/gpu_pack_tests.py)
#   pack_setup.sh decompresses lib/*.gz in place (once; gpu_run.sh runs it)
#   MANIFEST.txt, manifest.json  the files and sizes, the git commit, the
#               libraries' origin, the glibc / libstdc++ versions needed
# The binaries find lib/ through their RPATH ($ORIGIN/../lib, a DT_RPATH so it
# also serves the libraries' own dependencies): no environment is needed and
# the pack runs from any folder. Every binary is checked with ldd under env -i
# (with and without LD_LIBRARY_PATH=lib) to resolve to lib/ and the system's
# glibc / libstdc++ / libgcc_s alone; the pack fails above 60 MiB.
#
#   bench/gpu_pack.sh [DIR] [--jobs N] [--selftest [TEST,...|all]]
#
# --jobs: ninja's jobs (2). --selftest: then copy the pack to a scratch folder
# outside the repository, run pack_setup.sh and the ldd check there and its
# tests (the named ones, or all; CLGAN_TEST_DEVICE etc. pass through), and
# remove the copy. Needs meson, ninja, a C/C++ compiler, the build's
# libraries (README), python3, strip, ldd, objdump and gzip.
# bench/gpu_run.sh --pack DIR runs the measurement with it (see its --help).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pack=$root/gpu-pack
jobs=2
selftest=""
limit_mib=60
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --jobs) jobs=${2:?--jobs needs a count}; shift 2 ;;
    --selftest)
      if [ $# -gt 1 ] && [ "${2#-}" = "$2" ]; then selftest=$2; shift 2; else selftest=all; shift; fi ;;
    -*) echo "gpu_pack.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) pack=$1; shift ;;
  esac
done
case "$jobs" in ''|*[!0-9]*|0) echo "gpu_pack.sh: --jobs takes a positive integer" >&2; exit 2 ;; esac
build=$root/build-pack
die() { echo "gpu_pack.sh: $*" >&2; exit 1; }
for t in meson ninja python3 strip ldd objdump gzip; do
  command -v "$t" >/dev/null || die "needs $t"
done

# glibc's own libraries, libstdc++ and libgcc_s: every Linux with a C++
# runtime has them (the CUDA images do: PyTorch needs them), and a copy of
# glibc would not match that system's loader.
system_lib='^(linux-vdso|ld-linux-x86-64|libc|libm|libmvec|libdl|libpthread|librt|libresolv|libutil|libanl|libnsl|libBrokenLocale|libthread_db|libstdc\+\+|libgcc_s)\.so'

# ---- the release build --------------------------------------------------------
opts=(--buildtype=release -Dmpi=disabled -Dtests=enabled
      "-Dc_link_args=['-Wl,-rpath,\$ORIGIN/../lib','-Wl,--disable-new-dtags']"
      "-Dcpp_link_args=['-Wl,-rpath,\$ORIGIN/../lib','-Wl,--disable-new-dtags']")
if [ -f "$build/build.ninja" ]; then
  meson configure "$build" "${opts[@]}" >/dev/null
else
  meson setup "$build" "${opts[@]}" >/dev/null || die "meson setup $build failed"
fi
ninja -C "$build" -j "$jobs" >"$build/gpu-pack-ninja.log" 2>&1 ||
  { tail -n 20 "$build/gpu-pack-ninja.log" >&2; die "the build failed (log: $build/gpu-pack-ninja.log)"; }

# ---- the pack -------------------------------------------------------------------
if [ -e "$pack" ]; then
  [ -z "$(ls -A "$pack")" ] || [ -f "$pack/.gpu-pack" ] ||
    die "$pack exists and is not a pack (no .gpu-pack in it): not replacing it"
  rm -rf "$pack"
fi
mkdir -p "$pack/bin" "$pack/tests" "$pack/lib"
pack=$(cd "$pack" && pwd)
echo "made by bench/gpu_pack.sh, replaced by its next run" >"$pack/.gpu-pack"

# The build's executables (meson's target list), but the build-time tool.
python3 - "$build" <<'EOF' >"$pack/.executables"
import json, os, sys
for t in json.load(open(os.path.join(sys.argv[1], "meson-info", "intro-targets.json"))):
    if t["type"] == "executable" and t["name"] != "embed_sources":
        for f in t["filename"]:
            print(f)
EOF
while read -r exe; do
  case "$exe" in "$build"/tests/*) sub=tests ;; *) sub=bin ;; esac
  strip -o "$pack/$sub/$(basename "$exe")" "$exe"
done <"$pack/.executables"
rm "$pack/.executables"

# Every library the binaries resolve to here but the system's own.
: >"$pack/.libs"
for exe in "$pack"/bin/* "$pack"/tests/*; do
  env -i ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' >>"$pack/.libs"
done
sort -u "$pack/.libs" | while read -r soname path; do
  [[ $soname =~ $system_lib ]] && continue
  cp -L "$path" "$pack/lib/$soname"
  printf '%s %s\n' "$soname" "$(readlink -f "$path")" >>"$pack/.origins"
done
rm "$pack/.libs"

# check_ldd PACK: every binary and library resolves to PACK/lib or the system's
# glibc / libstdc++ / libgcc_s, under a clean environment.
check_ldd() {
  local p=$1 f bad=0 out
  for f in "$p"/bin/* "$p"/tests/* "$p"/lib/*.so*; do
    case "$f" in *.gz) continue ;; esac
    for ldpath in "" "$p/lib"; do
      case "$f" in "$p"/lib/*) [ -z "$ldpath" ] && continue ;; esac
      out=$(env -i ${ldpath:+LD_LIBRARY_PATH=$ldpath} ldd "$f" 2>&1) || { echo "ldd $f: $out" >&2; bad=1; continue; }
      while read -r soname arrow path _; do
        [ "$arrow" = "=>" ] || continue
        [ "${path#/}" = "$path" ] || path=$(readlink -f "$path")
        case "$path" in
          "$p"/lib/*) ;;
          not) echo "$f: $soname not found${ldpath:+ (LD_LIBRARY_PATH=$ldpath)}" >&2; bad=1 ;;
          *) [[ $soname =~ $system_lib ]] ||
               { echo "$f: $soname resolves outside the pack: $path" >&2; bad=1; } ;;
        esac
      done <<<"$out"
    done
  done
  return $bad
}
check_ldd "$pack" || die "a binary of the pack needs a library outside it (above)"

# What the tests read, and the test list with the paths rewritten.
python3 "$root/bench/gpu_pack_tests.py" make "$build" "$root" "$pack" >/dev/null
cp "$root/bench/gpu_pack_tests.py" "$pack/run_tests.py"
mkdir -p "$pack/src"
cp -r "$root/cl" "$root/include" "$pack/src/"

# The largest libraries travel compressed (ICU's data: 31 MiB, 12 gzipped).
find "$pack/lib" -type f -size +8M -exec gzip -9 {} \;
cat >"$pack/pack_setup.sh" <<'EOF'
#!/bin/sh
# Decompresses the pack's lib/*.gz in place (once), makes the binaries
# executable (should a copy have lost the bits) and checks that clgan's
# libraries resolve: run before anything else of the pack.
here=$(cd "$(dirname "$0")" && pwd)
chmod +x "$here"/bin/* "$here"/tests/* || exit 1
for f in "$here"/lib/*.gz; do
  [ -e "$f" ] || continue
  gzip -dc "$f" >"${f%.gz}.tmp" && mv "${f%.gz}.tmp" "${f%.gz}" && rm "$f" || exit 1
done
if env -i ldd "$here/bin/clgan" | grep 'not found'; then
  echo "pack_setup.sh: clgan's libraries do not resolve (above)" >&2; exit 1
fi
echo "pack_setup.sh: $here ready"
EOF
chmod +x "$pack/pack_setup.sh" "$pack/run_tests.py"

# ---- the manifest -------------------------------------------------------------
needs() { # the highest symbol version of PREFIX the pack's files need
  find "$pack/bin" "$pack/tests" "$pack/lib" -type f ! -name '*.gz' -exec objdump -T {} + 2>/dev/null |
    grep -o "$1[0-9.]*" | sort -uV | tail -n 1
}
glibc=$(needs GLIBC_) glibcxx=$(needs GLIBCXX_)
commit=$(git -C "$root" rev-parse HEAD)
dirty=$(git -C "$root" status --porcelain --untracked-files=no | wc -l)
python3 - "$pack" "$commit" "$dirty" "$glibc" "$glibcxx" "$(cc --version | head -n 1)" \
  "$(. /etc/os-release && echo "$PRETTY_NAME")" <<'EOF'
import json, os, subprocess, sys, time
pack, commit, dirty, glibc, glibcxx, compiler, host = sys.argv[1:8]
origins = {}
for line in open(os.path.join(pack, ".origins")):
    soname, path = line.split()
    pkg = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True).stdout
    if not pkg and path.startswith("/usr/lib/"):  # merged /usr: dpkg may know /lib/...
        pkg = subprocess.run(["dpkg", "-S", path[4:]], capture_output=True, text=True).stdout
    origins[soname] = {"from": path, "package": pkg.split(":")[0] if pkg else None}
os.remove(os.path.join(pack, ".origins"))
files = []
for d, _, names in os.walk(pack):
    for n in names:
        p = os.path.join(d, n)
        files.append({"path": os.path.relpath(p, pack), "bytes": os.path.getsize(p)})
files.sort(key=lambda f: f["path"])
total = sum(f["bytes"] for f in files)
tests = json.load(open(os.path.join(pack, "tests.json")))
m = {"git_commit": commit, "git_dirty_files": int(dirty),
     "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "build_host": host,
     "compiler": compiler, "buildtype": "release, stripped, no MPI",
     "needs": {"glibc": glibc, "libstdc++": glibcxx}, "total_bytes": total,
     "tests": [t["name"] for t in tests], "libraries": origins, "files": files}
json.dump(m, open(os.path.join(pack, "manifest.json"), "w"), indent=1)
with open(os.path.join(pack, "MANIFEST.txt"), "w") as f:
    f.write("clgan GPU pack (bench/gpu_pack.sh)\ncommit %s%s\nbuilt %s on %s with %s\n"
            % (commit, " (+%s modified files)" % dirty if dirty != "0" else "", m["built"], host,
               compiler))
    f.write("needs %s and libstdc++ %s; %d tests; %.1f MiB in %d files\n\nlibraries:\n"
            % (glibc, glibcxx, len(tests), total / 2**20, len(files)))
    for s, o in sorted(origins.items()):
        f.write("  %-24s %s (%s)\n" % (s, o["from"], o["package"]))
    f.write("\nfiles:\n")
    for x in files:
        f.write("  %10d  %s\n" % (x["bytes"], x["path"]))
EOF
total=$(du -sb "$pack" | cut -f1)
tree=$(git -C "$root" ls-files -z | (cd "$root" && du -cb --files0-from=- 2>/dev/null) | tail -n 1 | cut -f1)
awk -v p="$pack" -v t="$total" -v w="${tree:-0}" -v g="$glibc" -v x="$glibcxx" -v c="${commit:0:12}" 'BEGIN {
  printf "gpu_pack.sh: %s: %.1f MiB (the working tree: %.1f MiB more), needs %s and libstdc++ %s, commit %s\n",
    p, t / 1048576, w / 1048576, g, x, c }'
[ "$total" -le $((limit_mib * 1048576)) ] || die "the pack is over $limit_mib MiB: it would not travel"

# ---- the self-test: a copy elsewhere, on its own ----------------------------------
if [ -n "$selftest" ]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/clgan-pack-selftest.XXXXXX")
  cp -a "$pack" "$scratch/pack"
  sh "$scratch/pack/pack_setup.sh" || die "pack_setup.sh failed in the copy"
  check_ldd "$scratch/pack" || die "the copy in $scratch does not resolve on its own"
  echo "gpu_pack.sh: the copy in $scratch/pack resolves to itself and the system's libc alone"
  names=()
  [ "$selftest" = all ] || IFS=, read -r -a names <<<"$selftest"
  # a kernel cache outside the repository, kept between self-tests (PoCL
  # compiles slowly); it holds compiled kernels only
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/clgan-pack-selftest
  (cd "$scratch" && python3 "$scratch/pack/run_tests.py" --logdir "$scratch/logs" \
     --cache "$cache" "${names[@]}") || die "the copy's tests failed (above; logs in $scratch/logs)"
  rm -rf "$scratch"
fi
