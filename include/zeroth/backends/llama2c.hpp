#pragma once
// Umbrella header for the llama2.c reference backend (reference.hpp, for tests, is not included).
#include "llama2c/blocks.hpp"
#include "llama2c/causal_lm.hpp"
#include "llama2c/checkpoint.hpp"
#include "llama2c/config.hpp"
#include "llama2c/generate.hpp"
#include "llama2c/kv_cache.hpp"
#include "llama2c/log_probs.hpp"
#include "llama2c/model.hpp"
#include "llama2c/tokenizer.hpp"
#include "llama2c/weights.hpp"
