// Child processes (spawn.cc): what they contribute to the addon's exports.
// (Not spawn.h: that name is the system header posix_spawn comes from.)
#pragma once

#include <napi.h>

namespace coio {

// spawn, pidfdOpen, waitpid, kill, setBlocking.
void InitSpawn(Napi::Env env, Napi::Object exports);

}  // namespace coio
