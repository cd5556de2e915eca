# Every dependency comes from a Debian bookworm package (see scripts/setup.sh).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2)
# RE2: Go's regular expression syntax (kustomize selectors) in linear time.
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
find_package(yaml-cpp REQUIRED)
# libyaml: the YAML parser behind common/yaml.h (the C parser go-yaml was ported from).
pkg_check_modules(LIBYAML REQUIRED IMPORTED_TARGET yaml-0.1)
find_package(nlohmann_json REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)  # libcrypto: the renderer's SHA-1 and SHA-256
find_package(SQLite3 REQUIRED)
find_package(GTest REQUIRED)
# cpp-httplib (Debian builds it as a shared library): the orchestrator's webhook receiver.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# prometheus-cpp: every service's /metrics (the pull exposer serves it).
find_package(prometheus-cpp CONFIG REQUIRED)
