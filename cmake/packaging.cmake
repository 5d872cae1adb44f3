# Installation rules and the Debian package (CPack), included at the end of the top-level
# CMakeLists.txt.
#
#   cmake --install build --prefix /usr/local     # a plain install
#   cd build && cpack -G DEB                       # build/anarchoredis_<version>_<arch>.deb
#   tools/package.sh                               # builds the .deb and checks its contents
#
# What goes where (prefix /usr, as in the .deb):
#   /usr/bin/anarchoredis, anarcho-admin, anarcho-bench
#   /etc/anarchoredis/anarchoredis.conf.example            (a conffile)
#   /etc/logrotate.d/anarchoredis                          (a conffile)
#   /usr/lib/systemd/system/anarchoredis@.service
#   /usr/share/doc/anarchoredis/   README.md, docs/*.md, examples/ (monitoring, Docker)
#
# System configuration lives in /etc when the prefix is /usr (the Debian layout, as
# GNUInstallDirs does for CMAKE_INSTALL_FULL_SYSCONFDIR), else in <prefix>/etc. The
# choice is made when installing, not when configuring, since cpack installs with prefix
# /usr whatever CMAKE_INSTALL_PREFIX the build was configured with.

include(GNUInstallDirs)

set(ANARCHO_PACKAGING_DIR "${PROJECT_SOURCE_DIR}/packaging")

# ------------------------------------------------------------------------ install rules

install(TARGETS anarchoredis anarcho-admin anarcho-bench
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")

install(FILES "${PROJECT_SOURCE_DIR}/README.md" DESTINATION "${CMAKE_INSTALL_DOCDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/docs/" DESTINATION "${CMAKE_INSTALL_DOCDIR}"
        FILES_MATCHING PATTERN "*.md")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/monitoring/" DESTINATION "${CMAKE_INSTALL_DOCDIR}/examples/monitoring")
install(FILES "${ANARCHO_PACKAGING_DIR}/Dockerfile" "${ANARCHO_PACKAGING_DIR}/docker-compose.yml"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}/examples/docker")

# The configuration example, the logrotate file and the systemd unit depend on the
# install prefix (see above); the unit names the binary and the config dir, and is
# rewritten for any prefix but /usr.
install(CODE "
  set(_anarcho_packaging \"${ANARCHO_PACKAGING_DIR}\")
  set(_anarcho_bindir \"${CMAKE_INSTALL_BINDIR}\")
  set(_anarcho_docdir \"${CMAKE_INSTALL_DOCDIR}\")
  set(_anarcho_work \"${PROJECT_BINARY_DIR}/packaging\")
")
install(CODE [[
  if(CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
    set(_anarcho_etc "/etc")
  else()
    set(_anarcho_etc "${CMAKE_INSTALL_PREFIX}/etc")
  endif()
  file(INSTALL DESTINATION "${_anarcho_etc}/anarchoredis" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES "${_anarcho_packaging}/anarchoredis.conf.example")
  file(INSTALL DESTINATION "${_anarcho_etc}/logrotate.d" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       RENAME anarchoredis
       FILES "${_anarcho_packaging}/anarchoredis.logrotate")

  file(READ "${_anarcho_packaging}/anarchoredis@.service" _anarcho_unit)
  if(NOT CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
    string(REPLACE "/usr/bin/anarchoredis" "${CMAKE_INSTALL_PREFIX}/${_anarcho_bindir}/anarchoredis"
           _anarcho_unit "${_anarcho_unit}")
    string(REPLACE "/etc/anarchoredis/" "${_anarcho_etc}/anarchoredis/" _anarcho_unit "${_anarcho_unit}")
    string(REPLACE "/usr/share/doc/anarchoredis/" "${CMAKE_INSTALL_PREFIX}/${_anarcho_docdir}/"
           _anarcho_unit "${_anarcho_unit}")
  endif()
  file(WRITE "${_anarcho_work}/anarchoredis@.service" "${_anarcho_unit}")
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES "${_anarcho_work}/anarchoredis@.service")
]])

# ------------------------------------------------------------------------ the .deb

if(PROJECT_VERSION)
  set(ANARCHO_PACKAGE_VERSION "${PROJECT_VERSION}")
else()
  message(WARNING "project() has no VERSION: the package is versioned 0.0.0")
  set(ANARCHO_PACKAGE_VERSION "0.0.0")
endif()

set(ANARCHO_DEB_MAINTAINER "anarchoredis maintainers <maintainers@anarchoredis.invalid>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "anarchoredis")
set(CPACK_PACKAGE_VENDOR "anarchoredis")
set(CPACK_PACKAGE_VERSION "${ANARCHO_PACKAGE_VERSION}")
set(CPACK_PACKAGE_CONTACT "${ANARCHO_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "strongly consistent, durable Redis (Raft over redis-server)")
# Install with prefix /usr and DESTDIR set to the staging tree, so that the /etc files
# above land in the package's /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "/usr")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_GENERATOR "TGZ")
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/\\\\.cluster/")

set(CPACK_DEBIAN_PACKAGE_NAME "anarchoredis")
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${ANARCHO_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "database")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# The summary above is the first line of the Description field; this is the rest.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"Each node runs a real redis-server as its execution engine and wraps it with a
Raft log kept in RocksDB. Any Redis client may use any node: reads and writes are
linearizable, and a write is acknowledged only once it is fsynced on a majority
of the nodes.

This package holds the node (anarchoredis; one per instance of the systemd unit
anarchoredis@.service), the administration tool anarcho-admin and the benchmark
anarcho-bench. See /usr/share/doc/anarchoredis/operations.md.")
# redis-server 7.0 or later is the child every node runs (Debian's version has epoch 5).
set(ANARCHO_DEB_DEPENDS "redis-server (>= 5:7.0), adduser")
find_program(ANARCHO_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(ANARCHO_DPKG_SHLIBDEPS)
  # The shared libraries the binaries link (abseil, RocksDB, protobuf, OpenSSL, ...) are
  # found by dpkg-shlibdeps and appended to the Depends field.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${ANARCHO_DEB_DEPENDS}")
else()
  # Without dpkg-dev: Debian 12's names of the same libraries.
  message(STATUS "dpkg-shlibdeps not found (package dpkg-dev): the .deb lists Debian 12's runtime libraries")
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${ANARCHO_DEB_DEPENDS}, libabsl20220623, librocksdb7.8, libprotobuf32, libssl3, zlib1g, libspdlog1.10-fmt9, libprometheus-cpp-core1.0, libsystemd0, libstdc++6, libgcc-s1, libc6")
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "logrotate")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${ANARCHO_PACKAGING_DIR}/debian/postinst"
    "${ANARCHO_PACKAGING_DIR}/debian/prerm"
    "${ANARCHO_PACKAGING_DIR}/debian/postrm"
    "${ANARCHO_PACKAGING_DIR}/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)

# The package is built and checked in the test suite (tools/package.sh: about 10 s on a
# built tree).
add_test(NAME package_check COMMAND ${PROJECT_SOURCE_DIR}/tools/package.sh)
set_tests_properties(package_check PROPERTIES ENVIRONMENT "BUILD_DIR=${CMAKE_BINARY_DIR}" LABELS packaging
                     RUN_SERIAL TRUE TIMEOUT 600)
