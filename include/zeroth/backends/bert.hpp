#pragma once
// The BERT-family encoder backend: Hugging Face model folders (config.json, safetensors, WordPiece), sentence
// embeddings, and classification by them. Not included by zeroth.hpp (it needs nlohmann-json).
#include "zeroth/backends/bert/config.hpp"
#include "zeroth/backends/bert/encoded_task.hpp"
#include "zeroth/backends/bert/model.hpp"
#include "zeroth/backends/bert/model_folder.hpp"
#include "zeroth/backends/bert/sentence_classifier.hpp"
#include "zeroth/backends/bert/weights.hpp"
