"""The identity outside swiftkit: what a merged model folder needs so that any loader
(transformers, vLLM, llama.cpp, Ollama) answers with the trained system prompt: its chat
template's default system, its generation defaults, a model card and an Ollama Modelfile."""
