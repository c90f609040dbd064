package camera

import (
	"errors"
	"fmt"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// reportEvery is the shortest interval between two damage events of one source: damage
// is counted continuously and written as one event per interval with its count.
const reportEvery = int64(1e9)

// emitter is what every source shares between its access units and the sink: it turns
// them into frames on the camera's track, stamps t/t_host/t_device, publishes, and
// writes damage and format changes as events (damage aggregated, at most one event
// per second with the count). It is owned by the source's read goroutine.
type emitter struct {
	sink schema.Sink
	tb   clock.Timebase
	st   *devclock.Stamps // the source's clock model (nil: t is the arrival on tb)
	name string
	tr   *track

	frames  int64 // frames published
	noKey   int64 // pictures skipped before the first keyframe
	bad     int64 // damaged pictures not yet reported
	badT0   int64 // reference time of the first unreported damage
	badT1   int64 // and of the last
	badErr  error // the last unreported damage
	lastRep int64 // host time of the last damage event
}

func newEmitter(sink schema.Sink, tb clock.Timebase, name string, tr *track) *emitter {
	if tb == nil {
		tb = clock.NewSystem()
	}
	return &emitter{sink: sink, tb: tb, name: name, tr: tr}
}

// au publishes one access unit. Only errors that must end the source (B-frames) are
// returned; damage is counted.
func (e *emitter) au(au AccessUnit, host, latency, device int64) error {
	var vf *schema.VideoFrame
	var err error
	if au.JPEG != nil {
		vf, err = e.tr.jpeg(au.JPEG)
	} else {
		vf, err = e.tr.h26x(au.NALUs)
	}
	return e.frame(vf, err, host, e.stamp(host, latency, device), device)
}

// stamp returns the reference time of a unit that arrived at host, latency after its
// exposure, stamped device by the camera's own clock (0: none): the camera's clock
// mapped through the arrivals (latency is then the unobservable fixed part), else the
// arrival less latency.
func (e *emitter) stamp(host, latency, device int64) int64 {
	switch {
	case e.st == nil:
		return e.tb.Ref(host - latency)
	case device != 0:
		return e.st.Counter(device, host)
	}
	return e.st.Arrival(host - latency)
}

// frame publishes a frame the track made (or counts why there is none), stamped with
// host arrival, reference time t of the exposure and device time.
func (e *emitter) frame(vf *schema.VideoFrame, err error, host, t, device int64) error {
	if err != nil {
		if errors.Is(err, ErrBFrames) {
			return fmt.Errorf("camera %s: %w", e.name, err)
		}
		e.damage(err, host)
		return nil
	}
	if vf == nil {
		e.noKey++
		return nil
	}
	if e.tr.format != "" {
		ev := schema.NewEvent(e.tb.Ref(host), schema.EvVideoFormat, schema.SevWarn, e.name,
			"picture size changed "+e.tr.format)
		e.sink.Publish(ev)
	}
	if e.noKey > 0 {
		e.reportNoKey(host)
	}
	vf.THost, vf.T, vf.TDevice = host, t, device
	e.frames++
	e.sink.Publish(vf)
	if e.st != nil {
		e.st.Tick(host, e.sink)
	}
	e.report(host, false)
	return nil
}

// damage counts a damaged or undecodable picture.
func (e *emitter) damage(err error, host int64) {
	t := e.tb.Ref(host)
	if e.bad == 0 {
		e.badT0 = t
	}
	e.bad++
	e.badT1 = t
	e.badErr = err
	e.report(host, false)
}

// report writes the pending damage count as an EvVideoError event when a second has
// passed since the last one, or now when force is set.
func (e *emitter) report(host int64, force bool) {
	if e.bad == 0 || (!force && host-e.lastRep < reportEvery) {
		return
	}
	ev := schema.NewEvent(e.tb.Ref(host), schema.EvVideoError, schema.SevWarn, e.name,
		fmt.Sprintf("skipped %d damaged pictures; last: %v", e.bad, e.badErr))
	ev.Count, ev.TFirst, ev.TLast = e.bad, e.badT0, e.badT1
	e.sink.Publish(ev)
	e.bad, e.badErr, e.lastRep = 0, nil, host
}

// close reports what is still pending (damage, pictures skipped before the first
// keyframe) when the source stops.
func (e *emitter) close() {
	host := clock.HostNow()
	if e.st != nil {
		e.st.Flush(host, e.sink)
	}
	e.report(host, true)
	if e.noKey > 0 {
		e.reportNoKey(host)
	}
}

func (e *emitter) reportNoKey(host int64) {
	ev := schema.NewEvent(e.tb.Ref(host), schema.EvVideoError, schema.SevInfo, e.name,
		fmt.Sprintf("skipped %d pictures before the first keyframe with parameter sets", e.noKey))
	ev.Count = e.noKey
	ev.Category = "no_keyframe"
	e.sink.Publish(ev)
	e.noKey = 0
}

// event publishes an event of this source now.
func (e *emitter) event(code schema.EventCode, sev schema.Severity, msg string) {
	e.sink.Publish(schema.NewEvent(e.tb.Ref(clock.HostNow()), code, sev, e.name, msg))
}

// nameOr returns name, or "cam<N>" when it is empty.
func nameOr(name string, camera uint8) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("cam%d", camera)
}
