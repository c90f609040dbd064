package schema

import (
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// WriteMarkdown writes the reference of every table (columns, types, units, meanings,
// enumeration codes) as Markdown; docs/format/drive.md embeds it.
func WriteMarkdown(w io.Writer) {
	for _, t := range Tables() {
		s := t.Schema()
		doc, _ := s.Metadata().GetValue(MetaDoc)
		fmt.Fprintf(w, "### `%s.arrow`\n\n%s.\n\n", t.TableName(), upperFirst(doc))
		fmt.Fprintln(w, "| column | type | unit | null | meaning |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, f := range s.Fields() {
			unit, _ := f.Metadata.GetValue("unit")
			fdoc, _ := f.Metadata.GetValue("doc")
			if codes, ok := f.Metadata.GetValue("codes"); ok {
				fdoc += "; codes: " + strings.ReplaceAll(codes, ",", ", ")
			}
			null := ""
			if f.Nullable {
				null = "yes"
			}
			fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s |\n", f.Name, typeName(f.Type), unit, null, strings.ReplaceAll(fdoc, "|", "\\|"))
		}
		fmt.Fprintln(w)
	}
}

func typeName(t arrow.DataType) string {
	if ts, ok := t.(*arrow.TimestampType); ok {
		return fmt.Sprintf("timestamp[%s, %s]", ts.Unit, ts.TimeZone)
	}
	return t.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
