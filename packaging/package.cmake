# Installing amid as Debian services are installed (cmake --install build), and
# its Debian package (cmake --build build --target package: CPack's DEB
# generator over the same install rules, reusing the build). Included by the
# top-level CMakeLists.txt, after every target exists.
#
# Where things go, with the default prefix /usr (GNUInstallDirs turns its
# etc/ into /etc):
#   amid                        /usr/sbin
#   amictl                      /usr/bin
#   configs/amid.toml           /etc/amid/amid.toml (a conffile: an admin's
#                               edits survive upgrades)
#   instance types, examples    /usr/share/amid
#   image recipes               /usr/share/amid/images
#   README, docs/, copyright    /usr/share/doc/amid
#   systemd/amid.{socket,service} /usr/lib/systemd/system
#   systemd/amid-qemu-system.conf /usr/share/doc/amid/examples (the drop-in
#                               for qemu:///system)
#   amictl.1, amid.8, amid.toml.5  /usr/share/man/man{1,8,5} (gzipped; made at
#                               build time: packaging/man/man.cmake)
#   amictl's completions        /usr/share/bash-completion/completions/amictl,
#                               /usr/share/zsh/vendor-completions/_amictl
include(GNUInstallDirs)

set(AMID_PACKAGING ${PROJECT_SOURCE_DIR}/packaging)
set(AMID_PACKAGING_OUT ${PROJECT_BINARY_DIR}/packaging)

install(TARGETS amid DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS amictl DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/configs/amid.toml DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/amid)
install(FILES ${PROJECT_SOURCE_DIR}/configs/instance-types.toml ${PROJECT_SOURCE_DIR}/configs/bdm.example.toml
              ${PROJECT_SOURCE_DIR}/configs/launch-template.example.toml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/amid)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/images/build-tiny ${PROJECT_SOURCE_DIR}/images/build-debian
        DESTINATION ${CMAKE_INSTALL_DATADIR}/amid/images)
install(FILES ${PROJECT_SOURCE_DIR}/images/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/amid/images)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/amid.socket ${PROJECT_SOURCE_DIR}/systemd/amid.service
        DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/amid-qemu-system.conf DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
file(GLOB AMID_DOCS ${PROJECT_SOURCE_DIR}/docs/*.md ${PROJECT_SOURCE_DIR}/docs/*.png)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${AMID_DOCS} ${AMID_PACKAGING}/debian/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Debian wants a changelog beside the copyright, compressed with gzip -9n (no
# name or time in its header, so the package is reproducible).
string(TIMESTAMP AMID_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(AMID_MAINTAINER "amid developers <maintainers@users.noreply.r-seed-548ce430.example>")
configure_file(${AMID_PACKAGING}/debian/changelog.in ${AMID_PACKAGING_OUT}/changelog @ONLY)
add_custom_command(
  OUTPUT ${AMID_PACKAGING_OUT}/changelog.gz
  COMMAND gzip -9nc ${AMID_PACKAGING_OUT}/changelog > ${AMID_PACKAGING_OUT}/changelog.gz
  DEPENDS ${AMID_PACKAGING_OUT}/changelog
  COMMENT "gzip -9n the Debian changelog")
add_custom_target(amid_changelog ALL DEPENDS ${AMID_PACKAGING_OUT}/changelog.gz)
install(FILES ${AMID_PACKAGING_OUT}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Man pages and shell completions, generated at build time (packaging/man/man.cmake):
# amictl's from its command table, amid's with help2man, amid.toml's from the file.
include(${AMID_PACKAGING}/man/man.cmake)
install(FILES ${AMID_MAN_OUT}/amictl.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${AMID_MAN_OUT}/amid.toml.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${AMID_MAN_OUT}/amid.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PROJECT_BINARY_DIR}/cli/docs/amictl.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME amictl)
install(FILES ${PROJECT_BINARY_DIR}/cli/docs/_amictl DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)

# The package's control files: the groups and systemd's reload (postinst),
# stopping amid on remove (prerm), what a purge leaves (postrm), and the config
# as a conffile.
file(WRITE ${AMID_PACKAGING_OUT}/conffiles "${CMAKE_INSTALL_FULL_SYSCONFDIR}/amid/amid.toml\n")
file(COPY ${AMID_PACKAGING}/debian/postinst ${AMID_PACKAGING}/debian/prerm ${AMID_PACKAGING}/debian/postrm
     DESTINATION ${AMID_PACKAGING_OUT}
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME amid)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PACKAGE_CONTACT "${AMID_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${AMID_MAINTAINER}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # amid_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "local EC2-style images and instances on libvirt")
# The extended description (CPack puts the summary above it as the synopsis).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "amid treats local qcow2 templates as AMIs: it launches guests from them
through libvirt with block device mappings, captures running guests into
new images as EC2's CreateImage does, copies and shares images between
regions, and answers EC2's API so that the AWS CLI and SDKs work against it.
amictl is its command-line client.")
# dpkg-shlibdeps adds the shared libraries the binaries link; these are the
# programs amid runs. libvirt-daemon-system even for the embedded driver: it
# makes the user libvirt-qemu that libvirt's QEMU driver runs guests as
# (without it the embedded driver fails to start: tests/service_test.sh).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "qemu-system-x86, qemu-utils, libvirt-daemon-driver-qemu, libvirt-daemon-system, iproute2, nftables, dosfstools, mtools, openssh-client, passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "putty-tools, qemu-system-arm, qemu-efi-aarch64")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${AMID_PACKAGING_OUT}/conffiles ${AMID_PACKAGING_OUT}/postinst ${AMID_PACKAGING_OUT}/prerm
    ${AMID_PACKAGING_OUT}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR})
include(CPack)
