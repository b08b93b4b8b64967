#!/usr/bin/env bash
# The mapping-memory screenshots of docs/gui.md, from the real window in a real X server:
#   HPO_DATA=/path/to/data-folder-with-hp docs/memory_screenshot.sh
# Week 1: a curator's decisions on a few terms (written through the session, as the window
# writes them; the memory catches up from the log). Week 2: `term2id gui` opens a new sheet with
# the same terms, driven with xdotool; `import` grabs the window.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
work=$(mktemp -d /tmp/term2id-memory-shot-XXXX)
mkdir -p "$work/data" "$work/config/term2id"
ln -s "$(cd "${HPO_DATA:?a data folder holding the hp store}" && pwd)/stores" "$work/data/stores"
cat > "$work/config/term2id/term2id.conf" <<INI
[curator]
name=Ada Curator
orcid=0000-0002-1825-0097
[mapping]
sources="exact,fuzzy"
ontology=hp
INI
printf 'phenotype\nfits\nbig head\nASD\nfloppy baby\ncold hands\nshort stature\n' > "$work/week1.csv"
printf 'phenotype\nASD\nfits\ncold hands\nbig head\nfloppy baby\nseizures\nsquint\nheart murmur\n' > "$work/week2.csv"
PYTHONPATH=$here "$python" - "$work" <<'PY'
import sys
from pathlib import Path
from term2id.core.catalog import StoreCatalog
from term2id.core.mapping_config import MappingConfig, build_mapper
from term2id.core.memory import MappingMemory
from term2id.core.memory_sync import catch_up
from term2id.core.session import Action, CurationSession, Curator, SessionInput
from term2id.core.tables import open_table

work = Path(sys.argv[1])
catalog = StoreCatalog(work / "data")
table = open_table(work / "week1.csv")
session = CurationSession.create(work / "week1.t2id", SessionInput(
    header=tuple(table.columns), rows=[[r.text(0)] for r in table.rows()],
    term_column="phenotype", default_ontology="hp"))
mapper = build_mapper(MappingConfig(sources=("exact", "fuzzy"), memory=True), catalog)
results = [mapper.map(q) for q in session.queries()]
session.record_results(enumerate(results), {"hp": catalog.open("hp").release})
ada = Curator("Ada Curator", "0000-0002-1825-0097")
shown = lambda r: {"shown": [[c.curie, c.label] for c in results[r].candidates]}
session.decide(0, Action.MANUAL, ada, "HP:0001250", "Seizure", shown(0))
session.decide(1, Action.ACCEPT, ada, "HP:0000256", "Macrocephaly", shown(1))
session.decide(2, Action.CHOOSE, ada, "HP:0000729", "Autistic behavior", shown(2))
session.decide(3, Action.MANUAL, ada, "HP:0001252", "Hypotonia", shown(3))
session.decide(4, Action.REJECT, ada, evidence=shown(4))
session.decide(5, Action.ACCEPT, ada, "HP:0004322", "Short stature", shown(5))
catch_up(MappingMemory.in_folder(catalog.data_dir), session)
session.close()
PY
export TERM2ID_DATA_DIR=$work/data XDG_CONFIG_HOME=$work/config
for n in $(seq 90 130); do  # a display nobody uses
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || break
done
Xvfb ":$n" -screen 0 1500x900x24 >/dev/null 2>&1 & xvfb=$!
trap 'kill $xvfb 2>/dev/null' EXIT
export DISPLAY=":$n"
sleep 1
kill -0 $xvfb  # it started
PYTHONPATH=$here "$python" -m term2id.cli gui "$work/week2.csv" & gui=$!
sleep 6
xdotool search --sync --onlyvisible --name "Open terms to map" windowfocus --sync key Return
sleep 40  # the session is made and mapped (the first time, HPO's fuzzy index is built)
win=$(xdotool search --onlyvisible --name "term2id" | head -1)
xdotool windowmove "$win" 0 0 windowsize "$win" 1500 900 windowfocus --sync "$win"
sleep 1
xdotool mousemove 100 80 click 1  # the first row: ASD
sleep 1
import -window root "$here/docs/screenshots/memory.png"
xdotool mousemove 100 124 click 1  # the third: cold hands
sleep 1
import -window root "$here/docs/screenshots/memory-rejected.png"
kill $gui
