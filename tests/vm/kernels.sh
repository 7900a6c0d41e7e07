# shellcheck shell=bash
# Kernel fetching for tests/vm/run.sh (sourced, not run).
#
# A private apt configuration (APT_CONFIG: its own sources list, lists and
# archive directories under $CACHE/apt, an empty dpkg status) reaches the
# Debian suites that carry the test kernels without touching the system's
# apt. The mirrors are the ones the system's own apt sources use.
#
# A kernel "series" (5.10, 6.1, 6.12, ...) resolves at run time to the newest
# generic -amd64 image package of that series (the security suites drop old
# ABI versions, so nothing is pinned). Its packages are downloaded with
# `apt-get download`, unpacked with `dpkg-deb -x` (nothing is installed), and
# reduced to what a VM needs, cached in $CACHE/kernels/PKG_VERSION/:
#   vmlinux        the uncompressed kernel (ELF, booted directly through PVH),
#                  or vmlinuz when no decompressor matched
#   modules/*.ko   virtio_pci, 9pnet_virtio, 9p, overlay and their
#                  dependencies, decompressed, in load order (modules.list)
#   config         the kernel's .config
#   release        its `uname -r`
#   package        "PKG VERSION"
# $CACHE/kernels/series-X.Y names the last good directory of a series (used
# when the mirrors cannot be reached).

# Suites searched for kernels. A new series only needs its suite here.
VM_SUITES_MAIN=(bookworm trixie trixie-backports)
VM_SUITES_SECURITY=(bullseye-security bookworm-security trixie-security)
VM_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Modules the initramfs loads (with their dependencies).
VM_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

# Messages carry the seconds since the script started.
log() { printf '[vm %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[vm %4ss] error: %s\n' "$SECONDS" "$*" >&2; exit 1; }

# The system's mirrors: "MAIN SECURITY" (deb822 .sources and one-line lists).
vm_system_mirrors() {
    local main="" sec="" f uri suites
    local files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    for f in "${files[@]}"; do
        case "$f" in
        *.sources)
            # deb822 stanzas: URIs + Suites (Types: deb).
            while IFS=$'\t' read -r uri suites; do
                case " $suites " in
                *-security*) [ -n "$sec" ] || sec=$uri ;;
                *) [ -n "$main" ] || main=$uri ;;
                esac
            done < <(awk '
                function flush() { if (deb && uri != "" && suites != "") print uri "\t" suites; uri=""; suites=""; deb=0 }
                /^[ \t]*$/ { flush(); next }
                /^#/ { next }
                tolower($1) == "types:" { deb = ($0 ~ /[ \t]deb([ \t]|$)/) }
                tolower($1) == "uris:" { uri = $2 }
                tolower($1) == "suites:" { $1 = ""; suites = $0 }
                END { flush() }' "$f" | grep -E '^[a-z]+://[^[:space:]]*debian' || true)
            ;;
        *)
            while read -r uri suites; do
                case "$suites" in
                *-security*) [ -n "$sec" ] || sec=$uri ;;
                *) [ -n "$main" ] || main=$uri ;;
                esac
            done < <(sed -E -n 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+([^[:space:]]+).*/\2 \3/p' "$f" |
                grep -E '^[a-z]+://[^[:space:]]*debian' || true)
            ;;
        esac
    done
    [ -n "$main" ] || main=http://deb.debian.org/debian
    [ -n "$sec" ] || sec=${main%/debian}/debian-security
    printf '%s %s\n' "${main%/}" "${sec%/}"
}

# Writes the private apt configuration under $1 and exports APT_CONFIG.
vm_apt_setup() {
    local d=$1 main sec s
    mkdir -p "$d"/lists/partial "$d"/archives/partial "$d"/etc/sources.list.d \
        "$d"/etc/preferences.d "$d"/etc/trusted.gpg.d
    : >"$d/status"
    read -r main sec < <(vm_system_mirrors)
    {
        for s in "${VM_SUITES_MAIN[@]}"; do
            echo "deb [signed-by=$VM_KEYRING target=Packages] $main $s main"
        done
        for s in "${VM_SUITES_SECURITY[@]}"; do
            echo "deb [signed-by=$VM_KEYRING target=Packages] $sec $s main"
        done
    } >"$d/sources.list"
    cat >"$d/apt.conf" <<EOF
Dir::Etc::SourceList "$d/sources.list";
Dir::Etc::SourceParts "$d/etc/sources.list.d";
Dir::Etc::Preferences "$d/etc/preferences";
Dir::Etc::PreferencesParts "$d/etc/preferences.d";
Dir::State "$d";
Dir::State::Lists "$d/lists";
Dir::State::status "$d/status";
Dir::Cache "$d";
Dir::Cache::archives "$d/archives";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
    export APT_CONFIG=$d/apt.conf
    VM_APT_DIR=$d
}

# apt-cache with a binary package cache (the system's apt.conf.d may disable
# it, as Docker images do; -o wins over every configuration file): each call
# then takes milliseconds instead of rebuilding the cache from the lists.
vm_apt_cache() {
    apt-cache -o "Dir::Cache::pkgcache=$VM_APT_DIR/pkgcache.bin" \
        -o "Dir::Cache::srcpkgcache=" "$@"
}
vm_apt_get() {
    apt-get -o "Dir::Cache::pkgcache=$VM_APT_DIR/pkgcache.bin" \
        -o "Dir::Cache::srcpkgcache=" "$@"
}

# apt-get update of the private lists. Returns non-zero when it failed.
vm_apt_update() {
    local out
    if ! out=$(vm_apt_get update -q 2>&1); then
        printf '%s\n' "$out" | tail -5 >&2
        return 1
    fi
    # apt-get update exits 0 on some fetch failures: look for them.
    if grep -qE '^(Err|W: Failed|E: )' <<<"$out"; then
        printf '%s\n' "$out" | grep -E '^(Err|W: |E: )' | head -5 >&2
    fi
    return 0
}

# The package that provides the newest generic kernel of series $1 ("6.12"),
# as "PKG VERSION"; empty when none.
vm_resolve_series() {
    local series=$1 re pkgs best="" bestv="" p v
    re="^linux-image-${series//./\\.}(\\.0-[0-9]+|\\.[0-9]+\\+deb[0-9]+(\\.[0-9]+)?)-amd64\$"
    pkgs=$(vm_apt_cache pkgnames linux-image- 2>/dev/null | grep -E "$re" || true)
    [ -n "$pkgs" ] || return 0
    # shellcheck disable=SC2086
    while read -r p v; do
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$bestv"; then
            best=$p bestv=$v
        fi
    done < <(vm_apt_cache show --no-all-versions $pkgs 2>/dev/null |
        awk '/^Package:/ {p=$2} /^Version:/ {print p, $2}')
    [ -n "$best" ] && printf '%s %s\n' "$best" "$bestv"
}

# Decompresses the kernel inside a bzImage $1 to the ELF $2.
vm_extract_vmlinux() {
    local img=$1 out=$2 sig cmd off
    for pair in 'FD377A585A00:xz -dc' '28B52FFD:zstd -dcq' '1F8B0800:gzip -dcq' \
        '02214C18:lz4 -dcq' '425A68:bzip2 -dcq' '5D000000:xz -dc --format=lzma'; do
        sig=${pair%%:*} cmd=${pair#*:}
        local pat="" i
        for ((i = 0; i < ${#sig}; i += 2)); do pat+="\\x${sig:i:2}"; done
        command -v "${cmd%% *}" >/dev/null 2>&1 || continue
        while read -r off; do
            tail -c "+$((off + 1))" "$img" | $cmd 2>/dev/null >"$out.tmp" || true
            if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
                mv "$out.tmp" "$out"
                return 0
            fi
        done < <(LC_ALL=C grep -obUaP "$pat" "$img" 2>/dev/null | LC_ALL=C cut -d: -f1 | head -5)
    done
    rm -f "$out.tmp"
    return 1
}

# Downloads and reduces the kernel "PKG VERSION" into $CACHE/kernels; prints
# its directory. Call it in a subshell (`dir=$(vm_fetch_kernel ...)`): it sets
# an EXIT trap and exits on errors. Safe from parallel jobs (a lock per kernel).
vm_fetch_kernel() {
    local cache=$1 pkg=$2 ver=$3
    local dir="$cache/kernels/${pkg}_${ver//[~:]/_}"
    mkdir -p "$cache/kernels"
    exec {lockfd}>"$dir.lock"
    flock "$lockfd"
    if [ -f "$dir/ok" ]; then
        touch "$dir/ok" # last use, for vm_prune_cache
        printf '%s\n' "$dir"
        return 0
    fi
    local tmp
    tmp=$(mktemp -d "$cache/kernels/.fetch.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    # trixie-era images depend on linux-binary-*, linux-modules-* (the kernel
    # and modules) and linux-base-* (config, modules.builtin): fetch them too.
    local deps="" dep
    for dep in $(vm_apt_cache show --no-all-versions "$pkg=$ver" 2>/dev/null |
        sed -n 's/^Depends: //p' | tr ',|' '\n\n' | sed -E 's/^ *([^ ]+).*/\1/' |
        grep -E '^linux-(binary|modules|base)-[0-9]' || true); do
        if vm_apt_cache show --no-all-versions "$dep" 2>/dev/null | grep "^Package:" >/dev/null; then
            deps+=" $dep"
        elif [[ $dep == linux-base-* ]]; then
            log "$pkg: $dep is not in the archive; going on without it"
        else
            die "$pkg depends on $dep, which is not in the archive"
        fi
    done
    log "downloading $pkg $ver${deps:+ (+$deps)}"
    # shellcheck disable=SC2086
    (cd "$tmp" && vm_apt_get download -q "$pkg=$ver" $deps >download.log 2>&1) ||
        { tail -5 "$tmp/download.log" >&2; die "apt-get download $pkg failed"; }
    mkdir "$tmp/root"
    local deb
    for deb in "$tmp"/*.deb; do
        dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
    done
    local r=$tmp/root
    # trixie-era packages keep modules (and vmlinuz) under usr/lib/modules.
    if [ -d "$r/usr/lib/modules" ]; then
        mkdir -p "$r/lib/modules"
        mv "$r"/usr/lib/modules/* "$r/lib/modules/"
    fi
    local krel
    krel=$(ls "$r/lib/modules" | head -1)
    [ -n "$krel" ] || die "$pkg: no lib/modules/RELEASE in the package"
    local vmlinuz
    vmlinuz=$(ls "$r"/boot/vmlinuz-* "$r/lib/modules/$krel/vmlinuz" 2>/dev/null | head -1)
    [ -n "$vmlinuz" ] || die "$pkg: no vmlinuz in the package"
    mkdir -p "$tmp/out/modules"
    if ! vm_extract_vmlinux "$vmlinuz" "$tmp/out/vmlinux"; then
        log "$pkg: cannot decompress vmlinuz; booting the bzImage"
        cp "$vmlinuz" "$tmp/out/vmlinuz"
    fi
    cp "$(ls "$r"/boot/config-* "$r/lib/modules/$krel/config" 2>/dev/null | head -1)" \
        "$tmp/out/config" 2>/dev/null || : >"$tmp/out/config"
    depmod -b "$r" "$krel" 2>/dev/null || die "$pkg: depmod failed"
    local m line ko name seen=" "
    for m in "${VM_MODULES[@]}"; do
        if ! line=$(modprobe -d "$r" -S "$krel" --show-depends "$m" 2>&1); then
            if grep -qE "/${m//_/[-_]}\\.ko" "$r/lib/modules/$krel/modules.builtin" 2>/dev/null; then
                continue
            fi
            die "$pkg: module $m: $line"
        fi
        while read -r kind ko _; do
            [ "$kind" = insmod ] || continue
            name=$(basename "$ko")
            name=${name%%.ko*}
            case "$seen" in *" $name "*) continue ;; esac
            seen+="$name "
            case "$ko" in
            *.ko.xz) xz -dc "$ko" >"$tmp/out/modules/$name.ko" ;;
            *.ko.zst) zstd -dcq "$ko" >"$tmp/out/modules/$name.ko" ;;
            *.ko.gz) gzip -dc "$ko" >"$tmp/out/modules/$name.ko" ;;
            *) cp "$ko" "$tmp/out/modules/$name.ko" ;;
            esac
            echo "$name.ko" >>"$tmp/out/modules.list"
        done <<<"$line"
    done
    touch "$tmp/out/modules.list"
    echo "$krel" >"$tmp/out/release"
    echo "$pkg $ver" >"$tmp/out/package"
    touch "$tmp/out/ok"
    rm -rf "$dir"
    mv "$tmp/out" "$dir"
    printf '%s\n' "$dir"
}

# Removes cached kernels that no series-* file names and that were not used
# for $2 days, and fetch directories left by killed runs.
vm_prune_cache() {
    local cache=$1 days=${2:-14} d keep f p v
    [ -d "$cache/kernels" ] || return 0
    find "$cache/kernels" -maxdepth 1 -name '.fetch.*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
    for d in "$cache"/kernels/linux-*/; do
        [ -d "$d" ] || continue
        d=${d%/}
        keep=0
        for f in "$cache"/kernels/series-*; do
            [ -f "$f" ] || continue
            read -r p v <"$f"
            [ "$d" = "$cache/kernels/${p}_${v//[~:]/_}" ] && keep=1
        done
        if [ "$keep" = 0 ] && [ -z "$(find "$d/ok" -mtime -"$days" 2>/dev/null)" ]; then
            log "pruning the unused kernel $(basename "$d")"
            rm -rf "$d" "$d.lock"
        fi
    done
}
