package rerun

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"roadlog/record/drive"
	"roadlog/schema"
)

// runWriter writes a run's three tables.
type runWriter struct {
	dir     string
	objects *drive.TableWriter[schema.Object]
	targets *drive.TableWriter[schema.Target]
	events  *drive.TableWriter[schema.Event]
}

func newRunWriter(dir string) (*runWriter, error) {
	w := &runWriter{dir: dir}
	var err error
	if w.objects, err = openTable(dir, schema.ObjectsTable); err != nil {
		return nil, err
	}
	if w.targets, err = openTable(dir, schema.TargetsTable); err != nil {
		w.objects.Close()
		return nil, err
	}
	if w.events, err = openTable(dir, schema.EventsTable); err != nil {
		w.objects.Close()
		w.targets.Close()
		return nil, err
	}
	return w, nil
}

func openTable[R any](dir string, t *schema.Table[R]) (*drive.TableWriter[R], error) {
	f, err := drive.OSFS{}.Create(filepath.Join(dir, drive.TableFile(t.Name)))
	if err != nil {
		return nil, fmt.Errorf("rerun: create %s: %w", t.Name, err)
	}
	w, err := drive.NewTableWriter(f, t, drive.CodecZSTD)
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func (w *runWriter) object(o *schema.Object) { w.objects.Append(o, o.T) }
func (w *runWriter) target(t *schema.Target) { w.targets.Append(t, t.T) }
func (w *runWriter) event(e *schema.Event)   { w.events.Append(e, e.T) }

func (w *runWriter) flush() error {
	return errors.Join(w.objects.Flush(), w.targets.Flush(), w.events.Flush())
}

// close writes the footers and returns the tables' figures.
func (w *runWriter) close() (map[string]drive.TableStats, error) {
	if err := errors.Join(w.objects.Close(), w.targets.Close(), w.events.Close()); err != nil {
		return nil, fmt.Errorf("rerun: close tables: %w", err)
	}
	return map[string]drive.TableStats{
		string(schema.TableObjects): w.objects.Stats(),
		string(schema.TableTargets): w.targets.Stats(),
		string(schema.TableEvents):  w.events.Stats(),
	}, nil
}

// abort closes the files of a failed run (the caller removes its folder).
func (w *runWriter) abort() {
	w.objects.Close()
	w.targets.Close()
	w.events.Close()
	os.RemoveAll(w.dir)
}
