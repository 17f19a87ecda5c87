#!/bin/sh
# Install what building and testing prb needs on Debian 12. Idempotent; run as root.
#   scripts/install-deps.sh          build and run dependencies
#   scripts/install-deps.sh --rdma   also what the Soft-RoCE VM tests need
set -eu
packages="cmake make gcc clang llvm libclang-rt-14-dev pkg-config python3 git
	libibverbs-dev librdmacm-dev rdma-core ibverbs-providers
	libpmem2-dev libisal-dev libcunit1-dev
	libwireshark-dev libglib2.0-dev tshark wireshark-common
	valgrind iperf3 redis-server redis-tools util-linux iproute2 procps"
rdma_packages="qemu-system-x86 linux-image-amd64 busybox-static kmod cpio
	ibverbs-utils rdmacm-utils perftest"
if [ "${1-}" = "--rdma" ]; then
	packages="$packages $rdma_packages"
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture: answer no, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086 # the lists are words
apt-get install -y -qq --no-install-recommends $packages
