#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# rxe-vm.sh: run one command where real RDMA verbs exist, on a host whose own
# kernel has none. Boots Debian's kernel (package linux-image-amd64, which ships
# rdma_rxe) under qemu, with the host's / shared read-only over 9p as the guest's
# root and the working directory shared read-write; makes two Soft-RoCE devices
# on a veth pair; runs the command there with the caller's environment; prints
# its output; exits with its status.
#
# Usage: scripts/rxe-vm.sh [-C DIR] [--check] [--] CMD [ARG...]
#   -C DIR    working directory of CMD (shared read-write; default: the current one)
#   --check   only check that the VM can be started (host packages, kernel)
#
# Inside the guest:
#   rxe0 on veth0 10.0.0.1/24  <-- veth -->  rxe1 on veth1 10.0.0.2/24, MTU 9000
#   Policy routing sends 10.0.0.1 <-> 10.0.0.2 over the veth pair (not lo), so a
#   client connecting to 10.0.0.1 uses rxe1 and its packets cross the wire as
#   RoCEv2 (UDP 4791): capture them on veth0 or veth1.
#   /tmp, /run, /dev/shm are empty tmpfs; the rest of / is the host's, read-only.
#   CMD's stdin is /dev/null; stdout and stderr arrive merged (serial console).
#   Shell syntax needs a shell: rxe-vm.sh bash -c 'a & b; wait'.
#
# Exit status: CMD's; 125 when the VM cannot run (a message on stderr says why:
# missing package, no kernel, qemu failed, timeout, RDMA setup failed in the guest).
#
# Environment:
#   PRB_VM_ACCEL    qemu accelerator options (default "-accel tcg -cpu max": KVM is
#                   not assumed; "-enable-kvm -cpu host" where it works)
#   PRB_VM_MEM      guest memory (default 1G)
#   PRB_VM_SMP      guest CPUs (default: host CPUs, at most 4)
#   PRB_VM_TIMEOUT  seconds before the VM is killed (default 900)
#   PRB_VM_KVER     kernel version under /lib/modules (default: newest with rdma_rxe)
#   PRB_VM_CACHE    where the generated initramfs is kept (default /tmp/prb-rxe-vm)
#   PRB_VM_DMESG    file (in the working directory) that receives the guest's dmesg
#
# The guest runs on the TSC clocksource (tsc=reliable): TCG marks the TSC unstable and
# falls back to HPET, which turns every clock_gettime into an emulated device read.
#
# Host packages (scripts/install-deps.sh --rdma): qemu-system-x86 linux-image-amd64
# busybox-static kmod cpio iproute2, plus what CMD uses in the guest.
set -euo pipefail

readonly VM_UNAVAILABLE=125

die_unavailable() {
	echo "rxe-vm: cannot run the RDMA VM: $*" >&2
	exit "$VM_UNAVAILABLE"
}

# ---------------------------------------------------------------- guest side

# Mount what a minimal system needs on top of the read-only host root.
guest_mounts() {
	mount -t proc proc /proc
	mount -t sysfs sys /sys
	mount -t devtmpfs dev /dev
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts
	mount -t tmpfs shm /dev/shm
	# devtmpfs has no /dev/fd: bash process substitution and /dev/stdout need them
	ln -s /proc/self/fd /dev/fd
	ln -s fd/0 /dev/stdin
	ln -s fd/1 /dev/stdout
	ln -s fd/2 /dev/stderr
	mount -t tmpfs tmp /tmp
	mount -t tmpfs run /run
	mkdir -p /run/rxe-vm
	local opts=trans=virtio,version=9p2000.L,msize=512000,cache=mmap
	mount -t 9p -o "$opts" xfer /run/rxe-vm
	workdir=$(cat /run/rxe-vm/workdir)
	mkdir -p "$workdir" 2>/dev/null
	mount -t 9p -o "$opts" workdir "$workdir"
}

# Two rxe devices on a veth pair, traffic between their addresses forced over the pair.
guest_rdma_setup() {
	modprobe -a rdma_rxe rdma_ucm ib_umad veth
	# 2 MiB READ bursts overflow the default backlog and rxe does not recover the drops
	sysctl -qw net.core.netdev_max_backlog=65536
	ip link set lo up
	ip link add veth0 type veth peer name veth1
	local i
	for i in 0 1; do
		ip addr add "10.0.0.$((i + 1))/24" dev "veth$i"
		ip link set "veth$i" mtu 9000 up
		sysctl -qw "net.ipv4.conf.veth$i.accept_local=1"
		rdma link add "rxe$i" type rxe netdev "veth$i"
	done
	# Local addresses normally resolve through lo, where two rxe devices cannot
	# talk: look up "local" only for packets arriving on the pair, and route each
	# address to the other one through its own end of the pair.
	ip rule add pref 10 iif veth0 lookup local
	ip rule add pref 11 iif veth1 lookup local
	ip rule add pref 20 to 10.0.0.2 lookup 100
	ip route add 10.0.0.2 dev veth0 src 10.0.0.1 table 100
	ip rule add pref 21 to 10.0.0.1 lookup 101
	ip route add 10.0.0.1 dev veth1 src 10.0.0.2 table 101
	ip rule add pref 100 lookup local
	ip rule del pref 0
	# Static neighbours: rxe drops the first connect request while ARP is pending and
	# rdma_cm retries only after ~4 s, longer than a typical connect timeout.
	ip neigh replace 10.0.0.2 lladdr "$(cat /sys/class/net/veth1/address)" dev veth0 nud permanent
	ip neigh replace 10.0.0.1 lladdr "$(cat /sys/class/net/veth0/address)" dev veth1 nud permanent
}

# PID 1 of the guest: set up, run the command, record its status, power off.
guest_main() {
	set +e
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	guest_mounts
	stty -onlcr 2>/dev/null   # plain \n on the serial console
	local status
	if (set -e; guest_rdma_setup) >/run/rxe-vm/setup.log 2>&1; then
		echo 1 >/proc/sys/kernel/printk   # keep kernel chatter out of CMD's output
		(
			cd "$workdir" || exit "$VM_UNAVAILABLE"
			# shellcheck disable=SC1091 # written by the host side
			. /run/rxe-vm/env 2>/dev/null
			eval "exec $(cat /run/rxe-vm/cmd)"
		) </dev/null
		status=$?
	else
		echo "rxe-vm: RDMA setup failed in the guest:"
		cat /run/rxe-vm/setup.log
		status=$VM_UNAVAILABLE
	fi
	(
		# shellcheck disable=SC1091
		. /run/rxe-vm/env 2>/dev/null
		if [ -n "${PRB_VM_DMESG-}" ]; then cd "$workdir" && dmesg >"$PRB_VM_DMESG"; fi
	)
	echo "$status" >/run/rxe-vm/status
	cd /
	sync
	umount "$workdir" /run/rxe-vm
	echo 0 >/proc/sys/kernel/printk
	busybox poweroff -f   # PID 1 must not exit: that panics (panic=-1 ends qemu then)
	exit 1
}

if [ "${1-}" = --guest ]; then
	guest_main
fi

# ---------------------------------------------------------------- host side

# Newest kernel with both an image in /boot and the rdma_rxe module.
find_kernel() {
	local k found=
	for k in $(cd /lib/modules 2>/dev/null && printf '%s\n' * | sort -V); do
		if [ -e "/boot/vmlinuz-$k" ] &&
			[ -d "/lib/modules/$k/kernel/drivers/infiniband/sw/rxe" ]; then
			found=$k
		fi
	done
	echo "$found"
}

check_host() {
	local tool missing=
	for tool in qemu-system-x86_64 busybox modprobe cpio gzip timeout; do
		command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
	done
	[ -z "$missing" ] ||
		die_unavailable "missing host tools:$missing (run scripts/install-deps.sh --rdma as root)"
	# the guest runs the host's binaries: these must exist for the RDMA setup
	for tool in ip rdma sysctl; do
		command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
	done
	[ -z "$missing" ] ||
		die_unavailable "missing tools the guest needs:$missing (install iproute2, procps)"
	kver=${PRB_VM_KVER:-$(find_kernel)}
	[ -n "$kver" ] ||
		die_unavailable "no kernel with rdma_rxe in /boot and /lib/modules (apt-get install linux-image-amd64)"
	[ -r "/boot/vmlinuz-$kver" ] || die_unavailable "cannot read /boot/vmlinuz-$kver"
}

# Initramfs: busybox plus the virtio/9p modules; it mounts the host's / and
# switches to it, running this script with --guest as PID 1.
build_initramfs() {
	local out=$1 dir ko
	dir=$(mktemp -d "$cache/initramfs.XXXXXX")
	mkdir -p "$dir/bin" "$dir/lib" "$dir/proc" "$dir/dev" "$dir/newroot"
	cp "$(command -v busybox)" "$dir/bin/busybox"
	: >"$dir/modules"
	for ko in $(for m in virtio_pci 9pnet_virtio 9p; do modprobe -S "$kver" --show-depends "$m"; done |
		awk '$1 == "insmod" && !seen[$2]++ { print $2 }'); do
		cp "$ko" "$dir/lib/"
		echo "insmod /lib/${ko##*/}" >>"$dir/modules"
	done
	cat >"$dir/init" <<-'EOF'
	#!/bin/busybox sh
	/bin/busybox --install -s /bin
	export PATH=/bin
	mount -t proc proc /proc
	. /modules
	if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /newroot; then
		echo "rxe-vm: the guest cannot mount the host's root over 9p"
		echo o >/proc/sysrq-trigger
		sleep 10
	fi
	umount /proc
	exec switch_root /newroot /bin/bash "$PRB_VM_SELF" --guest
	EOF
	chmod +x "$dir/init"
	(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$dir"
}

workdir=$PWD
check_only=0
while [ $# -gt 0 ]; do
	case $1 in
	-C) workdir=$(cd "$2" && pwd); shift 2 ;;
	--check) check_only=1; shift ;;
	--) shift; break ;;
	-*) echo "usage: $0 [-C DIR] [--check] [--] CMD [ARG...]" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || [ "$check_only" = 1 ] || { echo "usage: $0 [-C DIR] [--check] [--] CMD [ARG...]" >&2; exit 2; }

check_host
self=$(readlink -f "$0")
cache=${PRB_VM_CACHE:-/tmp/prb-rxe-vm}
mkdir -p "$cache" || die_unavailable "cannot create $cache"
# the init script is part of the key: editing it rebuilds the initramfs
initramfs=$cache/initramfs-$kver-$(sed -n '/^build_initramfs()/,/^}/p' "$self" | cksum | cut -d' ' -f1).cpio.gz
if [ ! -s "$initramfs" ]; then
	build_initramfs "$initramfs" || die_unavailable "cannot build the initramfs"
fi
[ "$check_only" = 1 ] && { echo "rxe-vm: ready (kernel $kver, $initramfs)"; exit 0; }

xfer=$(mktemp -d "$cache/run.XXXXXX")
trap 'rm -rf "$xfer"' EXIT
printf '%q ' "$@" >"$xfer/cmd"
echo "$workdir" >"$xfer/workdir"
export -p >"$xfer/env"
nproc=$(nproc)
fs=local,security_model=none,multidevs=remap
qemu_status=0
# shellcheck disable=SC2086 # PRB_VM_ACCEL is a list of options
timeout "${PRB_VM_TIMEOUT:-900}" qemu-system-x86_64 ${PRB_VM_ACCEL:--accel tcg -cpu max} \
	-m "${PRB_VM_MEM:-1G}" -smp "${PRB_VM_SMP:-$((nproc > 4 ? 4 : nproc))}" \
	-nodefaults -no-user-config -display none -no-reboot -serial stdio \
	-kernel "/boot/vmlinuz-$kver" -initrd "$initramfs" \
	-append "console=ttyS0 quiet panic=-1 mitigations=off tsc=reliable clocksource=tsc PRB_VM_SELF=$self" \
	-virtfs "$fs,path=/,mount_tag=hostroot,readonly=on" \
	-virtfs "$fs,path=$xfer,mount_tag=xfer" \
	-virtfs "$fs,path=$workdir,mount_tag=workdir" </dev/null || qemu_status=$?
if [ ! -s "$xfer/status" ]; then
	if [ "$qemu_status" = 124 ]; then
		die_unavailable "timed out after ${PRB_VM_TIMEOUT:-900} s (PRB_VM_TIMEOUT)"
	fi
	die_unavailable "the VM ended before the command finished (qemu status $qemu_status)"
fi
exit "$(cat "$xfer/status")"
