# The RDMA binding's dependencies (included from the top CMakeLists.txt when PRB_RDMA is ON).
#   PkgConfig::PRB_VERBS   libibverbs + librdmacm
#   prb_rdma_deps          interface target: the libraries, and PRB_HAVE_IBV_WR_FLUSH when
#                          rdma-core has ibv_wr_flush (IBTA FLUSH; not in Debian 12's rdma-core 44)
include_guard(GLOBAL)
include(CheckSymbolExists)
include(CMakePushCheckState)

pkg_check_modules(PRB_VERBS IMPORTED_TARGET GLOBAL libibverbs librdmacm)
if(NOT PRB_VERBS_FOUND)
	message(FATAL_ERROR "PRB_RDMA is ON but libibverbs/librdmacm were not found: "
		"apt-get install libibverbs-dev librdmacm-dev, or configure with -DPRB_RDMA=OFF")
endif()

cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_INCLUDES ${PRB_VERBS_INCLUDE_DIRS})
set(CMAKE_REQUIRED_LIBRARIES ${PRB_VERBS_LINK_LIBRARIES})
check_symbol_exists(ibv_wr_flush "infiniband/verbs.h" PRB_HAVE_IBV_WR_FLUSH)
cmake_pop_check_state()

add_library(prb_rdma_deps INTERFACE)
target_link_libraries(prb_rdma_deps INTERFACE PkgConfig::PRB_VERBS)
if(PRB_HAVE_IBV_WR_FLUSH)
	target_compile_definitions(prb_rdma_deps INTERFACE PRB_HAVE_IBV_WR_FLUSH=1)
endif()
if(PRB_HAVE_IBV_WR_FLUSH)
	message(STATUS "RDMA binding: libibverbs ${PRB_VERBS_libibverbs_VERSION}, IBTA FLUSH offered")
else()
	message(STATUS "RDMA binding: libibverbs ${PRB_VERBS_libibverbs_VERSION}, no ibv_wr_flush: "
		"RDMA_FLUSH not offered")
endif()
