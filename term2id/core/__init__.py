"""term2id's core: everything a term meets on its way from a sheet to an identifier, without Qt.

In the order a term passes through (each layer imports only the ones after it):
- `curation`, `evaluation`: a curator's review of mapped rows; measuring the mapper on gold sets;
- `exports`: the mapped sheet, SSSOM tables, `term2id map`'s run over a table;
- `mapping`: the sources, verification, ranking, the Mapper and its configuration, the batch loop;
- `llm`: the local language model (backends, grammars, prompts) the mapping may ask;
- `ontology`: ontology files, the store of one release, the catalog of stores.
The modules beside them are the basics every layer may use: `candidates` (the words of mapping:
query, candidate, verdict, result), `curie` (ids), `errors`, `files` (atomic writes, hashes),
`normalize`, `progress`, `public` (how each layer shows its public names), `tables` (reading
sheets).
"""
