# check_flags.cmake — ctest script: `device_host --help` exits 0 and explains the flags;
# each bad command line exits with status 2 and a message that names what is wrong.
# Usage: cmake -DPROGRAM=<path to device_host> -P check_flags.cmake
execute_process(COMMAND ${PROGRAM} --help RESULT_VARIABLE status OUTPUT_VARIABLE out)
if(NOT status EQUAL 0 OR NOT out MATCHES "--rate-limit")
  message(FATAL_ERROR "--help: status ${status}, output:\n${out}")
endif()
foreach(case "--clients;1000|--clients" "--duration;abc|--duration" "--bogus|unknown flag '--bogus'"
             "--message-size=0|--message-size" "--misbehave;polite|unknown misbehaviour 'polite'"
             "--rate-limit;12Q|--rate-limit" "--vcpus|needs a value" "extra|unexpected argument")
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts -1 expected)
  list(REMOVE_AT parts -1)
  execute_process(COMMAND ${PROGRAM} ${parts} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 2 OR NOT err MATCHES "${expected}")
    message(FATAL_ERROR "device_host ${parts}: status ${status} (expected 2), stderr: ${err}")
  endif()
endforeach()
