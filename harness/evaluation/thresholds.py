"""The thresholds of the collapse labels, each with the evidence that set it.

The rules they belong to are described in `harness.evaluation.diagnostics`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Named thresholds of the labels; every default is chosen to keep real music `healthy`.

    Attributes:
        constant_tolerance: Half-width, in sample-value units, of the band a tail must
            stay inside to count as constant. 1e-3 is 33 steps of 16-bit audio, so
            quantisation and dither (a few steps) never break a constant tail, while
            any audible music (peaks far above -60 dBFS) does. A tail whose centre is
            within this of zero is a zero tail.
        min_constant_tail_s: Shortest constant tail reported as an onset. 10 ms keeps
            a zero-crossing or the last few samples of a file from counting.
        min_collapsed_tail_fraction: Share of the clip the constant tail must cover for
            `flat_collapse`. Half the clip: a collapsed generator stays flat for
            everything after its onset (near n, a small part of any generated clip),
            while recordings end with at most a second or two of silence.
        abrupt_stop_db: A zero tail is a collapse only if the 20 ms before its onset
            are at most this far below the clip's loudest 20 ms frame. Endings of the
            shipped recordings (natural, faded, excerpted, at 16 to 44.1 kHz) measured
            44-56 dB; cutting them to zero at 18 points each measured 0-40 dB, mostly
            below 25 dB.
        silence_db: Level without DC (dBFS) below which a clip or a frame is silent.
            The shipped recordings measure -19 to -23 dBFS over whole files and down to
            -31 dBFS over 2 s excerpts; -60 dBFS leaves about 30 dB of room for quieter
            recordings and passages and is still far above 16-bit dither (-101 dBFS).
        clip_level: Absolute sample value counted as at the rails (-0.09 dBFS). Just
            above the -0.1 dBFS ceiling that mastering limiters commonly use, so a loud
            but unclipped master does not count.
        saturated_ratio: Share of the samples outside digital silence at the rails for
            `saturated`. The shipped recordings normalised to full scale and driven
            6 dB into clipping put 0.1-1.9% of those samples there, and 2-10% when driven
            12 dB in (harder than loud commercial masters); with x20 gain (26 dB) they
            put 23-55% there, and a generator stuck at tanh's rails puts all of them there.
        noise_flatness: Median spectral flatness (0..1) for `noise`. White noise is
            exp(-Euler gamma) = 0.56 whatever its level; the shipped recordings measure
            below 0.01 at every rate (0.04 when clipped x20), since harmonic peaks and a
            falling spectrum keep music low. 0.4 leaves a tenfold margin for noisier
            genres than those shipped. Coloured noise (pink 0.30, brown 0.04, white
            low-passed at 1.5 kHz 0.00) is left to the three cues below.
        noise_fluctuation_z: Largest `fluctuation_z` for `noise` (with the other two
            cues). Measured, like the two below, on 2,904 noise clips: white, pink,
            brown (shaped and integrated), high-, low- and band-passed, AR(2) with pole
            radius 0.9-0.995, AR(4), mu-law quantised to 256 classes (also at -45 dBFS),
            faded (linear to zero, by 20 dB, 0.5 s in and out); 1-10 s at 16 and 44.1 kHz,
            16 seeds, half of them 16-bit quantised: median 0.96, 99th percentile 1.35,
            largest 2.16 (brown noise, whose power sits in a few bins). No window of a
            shipped recording (1-4 s at 0.1 s steps, 16 and 44.1 kHz) needs this cue to
            stay healthy; whole recordings measure 0.8 (ambi_choir, a steady pad) to 7.2.
            It is what flags a pitched tone whose spectrum the vibrato smooths: a sine
            with a 5.5 Hz, +-44 Hz vibrato measures 3.2-3.3 over 1 s, more when longer.
        noise_tonality_ratio: Largest `tonality_ratio` for `noise`. The noise clips
            measure median 0.91, 99th percentile 1.04, largest 1.17 (AR(2) with pole
            radius 0.995, a 25 Hz wide resonance close to a whistle; 1.06 without it).
            Windows of shipped recordings that only this cue keeps healthy measure at
            least 1.69 over 1 s (a held string chord in the Brahms at 16 kHz; bass_voxy_c
            1.97 at 44.1 kHz, its 65 Hz harmonics 3 bins apart) and 15 over 2-4 s
            (ambi_glass_hum); whole drones: ambi_choir 4.1-6.0, bass_voxy_c 2.5-5.1,
            ambi_glass_hum 12-16.
        noise_modulation_z: Largest `modulation_z` for `noise`. The noise clips measure
            median -0.1, 99th percentile 2.5, largest 4.1 (pink noise faded by 20 dB over
            1 s). Windows of shipped recordings that only this cue keeps healthy (the
            noise-like tail after the Brahms recording's final chord: spectral flatness
            0.2, near-Gaussian) measure at least 8.2 over 2 s, 9.7 over 3 s and 13.9 over
            4 s; coloured percussive bursts 58-190, a 4 Hz tremolo 40-86. Over 1 s that
            tail goes down to 4.7: 9 of the 1,885 one-second windows at 16 kHz (40.8-42.6 s
            into the Brahms) are labelled `noise`, none at 44.1 kHz.
        noise_broadband_flatness: Median spectral flatness at or above which the level's
            movement (`modulation_z`) does not keep a clip whose spectral shape is
            noise-like on the other two cues out of `noise`. Free-running clips of mu-law
            generators that learned little more than the histogram of sample values are
            spikes on broadband hiss: flatness 0.36-0.48, fluctuation_z 0.88-1.06,
            tonality_ratio 0.85-0.98 and modulation_z 10-67 from the spikes, labelled
            `healthy` or `noise` by which side of 0.4 their flatness fell (the
            collapse_cpu study, 2026-12-03). Windows of the shipped recordings and the
            built-in corpus (1-4 s at 0.1 s steps, 16 and 44.1 kHz) that only modulation
            keeps healthy measure at most 0.228 (loop_amen's cymbals over 1 s at 16 kHz;
            loop_compus 0.196, the Brahms tail 0.196): 0.3 sits 1.3x above them and 1.2x
            below the spikes. Whether such a clip's level moves in a rhythm or as
            independent frame-to-frame jitter could be told apart in principle, but over
            2 s windows a Ljung-Box test on the frames' gain measured 5.6-8 on music and
            1.5-8 on those clips: frames of 64 ms are too coarse for it.
        noise_modulation_depth_db: `modulation_depth_db` below which the level's movement
            (`modulation_z`) does not keep a clip whose spectral shape is noise-like on the
            other two cues out of `noise`, whatever its flatness: the level moves beyond chance
            but by too little to be a rhythm or notes. The depth is the RMS frame-to-frame
            level jitter in dB with chance removed (0 for steady noise; N(0, s) dB of
            independent jitter per frame measures s). Spikes on coloured hiss from mu-law
            generators measure 0.9-2.7 dB (14 clips: 12 from the
            stateful `embedded-fix` after 1,200 steps, seeds 0 and 1, and the 2 in
            tests/evaluation/data from collapse_cpu; 2026-12-03); the
            noise-like shipped music that only modulation keeps healthy, every 1-4 s window at
            0.1 s steps at 16 and 44.1 kHz, at least 4.29 (loop_amen; loop_mika 4.35) and
            4.06 for the window of the Brahms recording that holds its last chord's release.
            3.3 sits 1.2x above the one and 1.2x below the other. The applause after that
            chord (38.6-43.8 s), noise whose level jitters by 0.9-3 dB, is `noise` with it:
            467 windows of 1-4 s over both files and rates, all starting after 38.7 s.
        noise_declicked_depth_db: `declicked_depth_db` below which the level's movement
            (`modulation_z`, `modulation_depth_db`) does not keep a clip whose spectral shape is
            noise-like on the other two cues out of `noise`: what moves the level is isolated
            clicks, one frame each, which a 3-frame running median of the level removes. Hiss
            at -52 dBFS with 4 isolated clicks was `healthy` before this rule (modulation_z 99,
            its depth 3.75 dB from the clicks; issue 23): its declicked depth is 0.0 dB. The
            rhythmic shipped music that only modulation keeps healthy (1, 2 and 4 s windows at
            0.5 s steps of the loops, the Brahms before its applause, the trumpet and vibe
            recordings, at 16 and 44.1 kHz: 22 windows, all loop_mika) measures at least 1.71 dB:
            0.85 sits 2x below it.
        loop_residual_db: Largest `loop_residual_db` for `loop`: the energy of
            x[t + L] - x[t] over the mean-removed tail, relative to the tail's energy,
            at the period L and at the whole number of periods closest to half the tail
            (the worse of the two). Exact repetition gives 0 (-inf dB; the four 4 s clips
            of a free-running teacher-forced tanh LSTM measured exactly 0 at periods of 33
            and 111 samples), and so does a test tone whose period is a whole number of
            samples (a 440 Hz sine at 16 kHz: period 400). The shipped recordings, 16-bit at
            16 and 44.1 kHz, whole and as 2, 3 and 4 s excerpts at nine offsets, measure
            at least -20.8 dB (loop_breakbeat; ambi_glass_hum -19.3, trumpet_loop -19.5,
            bass_voxy_c -15.9, ambi_choir -3.1), all in the search stretch; the built-in
            corpus (the same excerpts) -32.7 dB there (a held synthetic note over 200 ms),
            which the half-tail lag would still have to pass. A Karplus-Strong note that
            decays fast enough to be nearly periodic measures -38.3 dB at two periods; an
            exactly repeating waveform decaying by 3 dB/s, and a sine drifting from 440 to
            441 Hz over 4 s (it passes the search), fail at the half-tail lag (+1.4 dB for
            the drift); a 1% vibrato measures -22 dB. -40 dB is 19 dB below the closest
            recording and keeps a loop 40 dB above any noise floor added to it.
        loop_drop_correlation: The period is searched from the first lag at which the
            normalised autocorrelation of the tail falls below this, so that the near-1
            correlation of a smooth low-frequency signal at short lags does not count; a
            zero-mean periodic signal always falls below it within its period.
        loop_max_period_s: Longest period searched, in seconds (800 samples at 16 kHz,
            a 20 Hz fundamental), or the window n if longer; at most a third of the tail
            (so that it holds three periods). The loops seen so far had periods of 33 and
            111 samples.
        mode_collapse_lsd_db: `diversity_lsd_db` below which a batch is `mode_collapse`.
            Independent takes of the same white noise (1 s at 16 kHz) are 1.7 dB apart
            through estimation variance alone, so below 1 dB the clips share nearly
            every spectral detail.
        frame_s: Frame length of the RMS curve, the silent-frame count and the
            pre-onset level.
        start_window_s: Length of the start window of `start_transient_db`.
    """

    constant_tolerance: float = 1e-3
    min_constant_tail_s: float = 0.01
    min_collapsed_tail_fraction: float = 0.5
    abrupt_stop_db: float = 30.0
    silence_db: float = -60.0
    clip_level: float = 0.99
    saturated_ratio: float = 0.15
    noise_flatness: float = 0.4
    noise_fluctuation_z: float = 2.5
    noise_tonality_ratio: float = 1.4
    noise_modulation_z: float = 6.0
    noise_broadband_flatness: float = 0.3
    noise_modulation_depth_db: float = 3.3
    noise_declicked_depth_db: float = 0.85
    loop_residual_db: float = -40.0
    loop_drop_correlation: float = 0.5
    loop_max_period_s: float = 0.05
    mode_collapse_lsd_db: float = 1.0
    frame_s: float = 0.02
    start_window_s: float = 0.01


DEFAULT_THRESHOLDS = Thresholds()
