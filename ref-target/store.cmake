# The brick's store (store.h): pool on libpmem2, persistent map, tiering. DESIGN.md explains it.
# Included by ref-target/CMakeLists.txt. Defines prb_store (static), its test build
# prb_store_fault (crash injection at persist points) and the store's tests.
pkg_check_modules(PMEM2 REQUIRED IMPORTED_TARGET libpmem2)

set(PRB_STORE_SOURCES
	${CMAKE_CURRENT_LIST_DIR}/store.c
	${CMAKE_CURRENT_LIST_DIR}/store_check.c
	${CMAKE_CURRENT_LIST_DIR}/store_fault.c
	${CMAKE_CURRENT_LIST_DIR}/store_index.c
	${CMAKE_CURRENT_LIST_DIR}/store_pool.c
	${CMAKE_CURRENT_LIST_DIR}/store_recover.c
	${CMAKE_CURRENT_LIST_DIR}/store_tier.c)

add_library(prb_store STATIC ${PRB_STORE_SOURCES})
target_include_directories(prb_store PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(prb_store PUBLIC PkgConfig::PMEM2)
prb_target_defaults(prb_store)

if(BUILD_TESTING)
	add_library(prb_store_fault STATIC ${PRB_STORE_SOURCES})
	target_include_directories(prb_store_fault PUBLIC ${CMAKE_CURRENT_LIST_DIR})
	target_compile_definitions(prb_store_fault PUBLIC PRB_STORE_FAULT_POINTS=1)
	target_link_libraries(prb_store_fault PUBLIC PkgConfig::PMEM2)
	prb_target_defaults(prb_store_fault)

	set(PRB_STORE_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/tests/store)
	# Pools live in a temporary folder under the build tree, removed by each test.
	set(PRB_STORE_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/store-test-tmp)
	file(MAKE_DIRECTORY ${PRB_STORE_TEST_TMP})
	# The crash test simulates kills and power losses itself (store_fault.c): it needs no
	# disk, and fsync latency would dominate its run time, so it uses tmpfs when there is one.
	if(IS_DIRECTORY /dev/shm)
		set(PRB_STORE_CRASH_TMP /dev/shm)
	else()
		set(PRB_STORE_CRASH_TMP ${PRB_STORE_TEST_TMP})
	endif()
	foreach(name basic model crash)
		add_executable(test_store_${name} ${PRB_STORE_TEST_DIR}/test_store_${name}.c
			${PRB_STORE_TEST_DIR}/store_test_util.c)
		if(name STREQUAL "crash")
			target_link_libraries(test_store_${name} PRIVATE prb_store_fault)
		else()
			target_link_libraries(test_store_${name} PRIVATE prb_store)
		endif()
		target_include_directories(test_store_${name} PRIVATE ${PRB_STORE_TEST_DIR})
		prb_target_defaults(test_store_${name})
		add_test(NAME store.${name} COMMAND test_store_${name})
		set(tmp ${PRB_STORE_TEST_TMP})
		if(name STREQUAL "crash")
			set(tmp ${PRB_STORE_CRASH_TMP})
		endif()
		set_tests_properties(store.${name} PROPERTIES ENVIRONMENT "PRB_STORE_TEST_TMP=${tmp}"
			TIMEOUT 300)
	endforeach()
	if(PRB_LONG_TESTS)
		add_test(NAME store.crash_long COMMAND test_store_crash --long)
		add_test(NAME store.model_long COMMAND test_store_model --long)
		set_tests_properties(store.crash_long PROPERTIES
			ENVIRONMENT "PRB_STORE_TEST_TMP=${PRB_STORE_CRASH_TMP}" TIMEOUT 3600)
		set_tests_properties(store.model_long PROPERTIES
			ENVIRONMENT "PRB_STORE_TEST_TMP=${PRB_STORE_TEST_TMP}" TIMEOUT 3600)
	endif()
endif()
