// The build's version, git revision and build type (cmake/version.cmake).
#pragma once

namespace node {
extern const char* const kVersion;
extern const char* const kRevision;
extern const char* const kBuildType;
}  // namespace node
