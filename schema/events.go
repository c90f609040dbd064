package schema

// EventCode is the explicit number of an event kind. Codes are grouped by hundreds:
// 1xx recording lifecycle and driver input, 2xx data loss and storage, 3xx sources,
// 4xx time sync, 5xx perception and ADAS, 6xx cameras and video, 9xx replay/tools.
type EventCode uint16

// Event codes. Never renumber; add new ones.
const (
	EvRecordStart   EventCode = 100 // recording started; Input says which input did it
	EvRecordStop    EventCode = 101 // recording stopped; Message says why
	EvMark          EventCode = 102 // driver mark; Category and Message hold what the driver said
	EvSegmentOpen   EventCode = 103 // a segment began
	EvSegmentClose  EventCode = 104 // a segment was closed
	EvRecordPaused  EventCode = 105 // ring-buffer capture: a window was kept; Detail says which
	EvConfig        EventCode = 106 // configuration note (e.g. ranging disabled: no calibration)
	EvDrop          EventCode = 200 // samples dropped: Source=table, Count, TFirst/TLast, Message=reason
	EvLate          EventCode = 201 // rows arrived after later rows were already written (kept, out of order)
	EvDiskLow       EventCode = 202 // free disk space below the warning threshold
	EvDiskFull      EventCode = 203 // free space below the stop threshold or a write failed for lack of space: recording stopped
	EvWriteError    EventCode = 204 // a file write failed
	EvSlowSync      EventCode = 205 // an fsync took longer than the warning threshold; Value = seconds
	EvRetention     EventCode = 206 // loop mode deleted old segments; Detail lists them
	EvSourceError   EventCode = 300 // a source failed; Message holds the error
	EvSourceDown    EventCode = 301 // a source outage began
	EvSourceUp      EventCode = 302 // a source (re)started; TFirst/TLast bound the outage
	EvSourceStats   EventCode = 303 // counters a source reports (bad lines, checksum errors…); Detail JSON
	EvKernelDrop    EventCode = 304 // the kernel/device reports dropped frames (e.g. SO_RXQ_OVFL); Count
	EvSyncState     EventCode = 400 // a clock changed state; Message "from→to"
	EvSyncStep      EventCode = 401 // a clock stepped or reset; Value = step in seconds
	EvPPSMissing    EventCode = 402 // PPS edges stopped or arrive without a time label
	EvFrameMissing  EventCode = 403 // a camera had no frame for a trigger; Count
	EvFrameDup      EventCode = 404 // duplicate frame for a trigger dropped from the frame set
	EvCameraRestart EventCode = 405 // a camera's sequence counter reset
	EvFCW           EventCode = 500 // forward-collision warning raised; Value = TTC (s)
	EvAEB           EventCode = 501 // emergency-brake warning raised; Value = TTC (s)
	EvCutIn         EventCode = 502 // cut-in detected; Value = TTC (s), Detail = track id and side
	EvCutOut        EventCode = 503 // cut-out detected
	EvDetectorStats EventCode = 504 // detector rate and latency; Detail JSON
	EvFCWEnd        EventCode = 505 // forward-collision warning cleared
	EvAEBEnd        EventCode = 506 // emergency-brake warning cleared
	EvVideoError    EventCode = 600 // corrupt or undecodable video data skipped; Count
	EvVideoFormat   EventCode = 601 // a camera changed resolution or codec parameters
	EvEncoderError  EventCode = 602 // the encoder process failed or restarted
	EvReplayDamage  EventCode = 900 // replay skipped a damaged batch or file
)

// EventCodeNames names the event codes (written into the events table's field metadata).
var EventCodeNames = map[EventCode]string{
	100: "record_start", 101: "record_stop", 102: "mark", 103: "segment_open", 104: "segment_close",
	105: "ring_window", 106: "config",
	200: "drop", 201: "late", 202: "disk_low", 203: "disk_full", 204: "write_error", 205: "slow_sync", 206: "retention",
	300: "source_error", 301: "source_down", 302: "source_up", 303: "source_stats", 304: "kernel_drop",
	400: "sync_state", 401: "sync_step", 402: "pps_missing", 403: "frame_missing", 404: "frame_dup", 405: "camera_restart",
	500: "fcw", 501: "aeb", 502: "cut_in", 503: "cut_out", 504: "detector_stats", 505: "fcw_end", 506: "aeb_end",
	600: "video_error", 601: "video_format", 602: "encoder_error",
	900: "replay_damage",
}

func (c EventCode) String() string { return name(EventCodeNames, c) }

// Event is a row of the events table: the drive's own log.
type Event struct {
	T        int64     // reference time of the event
	Code     EventCode // what happened
	Kind     string    // Code's name, for readers without the code list
	Severity Severity
	Source   string  // which source, table or input it concerns
	Message  string  // plain words
	Count    int64   // how many (drops, misses); 0 when not a count
	TFirst   int64   // first affected sample (0: none)
	TLast    int64   // last affected sample (0: none)
	Value    float64 // a number the code defines (NaN: none)
	Category string  // driver-mark category, or the event's sub-kind
	Input    string  // which input caused it: cli, api, web, gpio, can, auto
	Detail   string  // JSON with anything else
}

// Table returns TableEvents.
func (*Event) Table() TableName { return TableEvents }

// NewEvent returns an event with Kind filled from code and Value set to NaN.
func NewEvent(t int64, code EventCode, sev Severity, source, msg string) *Event {
	return &Event{T: t, Code: code, Kind: code.String(), Severity: sev, Source: source, Message: msg, Value: nan}
}

// EventsTable describes events.arrow.
var EventsTable = newTable(TableEvents, FormatVersion, "one row per event: recording lifecycle, driver marks, drops, disk, source and sync state changes, ADAS warnings",
	Time("t", "reference time of the event", func(r *Event) *int64 { return &r.T }),
	Enum16("code", "event code", EventCodeNames, func(r *Event) *EventCode { return &r.Code }),
	String("kind", "", "name of the event code", func(r *Event) *string { return &r.Kind }),
	Enum("severity", "severity", SeverityNames, func(r *Event) *Severity { return &r.Severity }),
	String("source", "", "source, table or component concerned", func(r *Event) *string { return &r.Source }),
	String("message", "", "plain-words description", func(r *Event) *string { return &r.Message }),
	Int64("count", "1", "number of samples concerned (drops, misses); 0 when not a count", func(r *Event) *int64 { return &r.Count }),
	OptTime("t_first", "first affected sample", func(r *Event) *int64 { return &r.TFirst }),
	OptTime("t_last", "last affected sample", func(r *Event) *int64 { return &r.TLast }),
	Float64("value", "", "a number whose meaning the code defines (TTC in s, step in s, …)", func(r *Event) *float64 { return &r.Value }),
	String("category", "", "driver-mark category or event sub-kind", func(r *Event) *string { return &r.Category }),
	String("input", "", "input that caused it: cli, api, web, gpio, can, auto", func(r *Event) *string { return &r.Input }),
	String("detail", "json", "JSON object with further detail", func(r *Event) *string { return &r.Detail }),
)
