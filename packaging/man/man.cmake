# The man pages and shell completions, made at build time (ALL) in
# ${PROJECT_BINARY_DIR}/packaging/man and installed by packaging/package.cmake:
#   amictl.1.gz, amictl.bash, _amictl   amictl_docs from amictl's command table (cli/)
#   amid.8.gz                           help2man over the built amid's --help and
#                                       --version, with amid.h2m's sections
#   amid.toml.5.gz                      amid_toml_man.py from configs/amid.toml
# Pages are gzipped with -9n (no name or time in the header: reproducible).
find_program(HELP2MAN help2man REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(AMID_MAN_OUT ${PROJECT_BINARY_DIR}/packaging/man)
file(MAKE_DIRECTORY ${AMID_MAN_OUT})

add_custom_command(
  OUTPUT ${AMID_MAN_OUT}/amictl.1.gz
  COMMAND gzip -9nc ${PROJECT_BINARY_DIR}/cli/docs/amictl.1 > ${AMID_MAN_OUT}/amictl.1.gz
  DEPENDS ${PROJECT_BINARY_DIR}/cli/docs/amictl.1 amictl_docs_out
  COMMENT "gzip -9n amictl.1")
add_custom_command(
  OUTPUT ${AMID_MAN_OUT}/amid.8.gz
  COMMAND ${HELP2MAN} --no-info --section 8 --no-discard-stderr
          --include ${CMAKE_CURRENT_LIST_DIR}/amid.h2m --output ${AMID_MAN_OUT}/amid.8 $<TARGET_FILE:amid>
  COMMAND gzip -9nf ${AMID_MAN_OUT}/amid.8
  DEPENDS amid ${CMAKE_CURRENT_LIST_DIR}/amid.h2m
  COMMENT "amid.8 with help2man from amid --help and --version")
add_custom_command(
  OUTPUT ${AMID_MAN_OUT}/amid.toml.5.gz
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/amid_toml_man.py ${PROJECT_SOURCE_DIR}/configs/amid.toml
          ${PROJECT_VERSION} > ${AMID_MAN_OUT}/amid.toml.5
  COMMAND gzip -9nf ${AMID_MAN_OUT}/amid.toml.5
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/amid_toml_man.py ${PROJECT_SOURCE_DIR}/configs/amid.toml
  COMMENT "amid.toml.5 from configs/amid.toml")
add_custom_target(amid_man_pages ALL
  DEPENDS ${AMID_MAN_OUT}/amictl.1.gz ${AMID_MAN_OUT}/amid.8.gz ${AMID_MAN_OUT}/amid.toml.5.gz)
