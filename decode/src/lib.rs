//! Streaming audio decoding with symphonia: one packet at a time, so a file
//! of any length needs only one packet's worth of samples in memory.
//!
//! The container is recognised by its content (the probe reads its magic
//! bytes; a file name's extension is only a hint), so `note.ogg` holding
//! Opus, or an `.m4a` named `.bin`, decode all the same. Opus comes from
//! libopus through `symphonia-adapter-libopus`; the rest is symphonia's own.
//!
//! Kept out of libdfd itself, whose embedders feed it PCM, so that its core
//! stays small: only the tools that read files pay for the codecs.
//!
//! Demuxers and codecs parse hostile bytes; a panic inside them (an
//! arithmetic overflow on a forged header, say) is caught, silently, and
//! becomes an error, after which the decoder refuses every further call.

pub mod ffi;

use std::fs::File;
use std::io::{Cursor, ErrorKind};
use std::path::Path;
use std::sync::LazyLock;

use dfd_backend_abi::panic::catch;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia_adapter_libopus::OpusDecoder;

/// What the decoder reads, for messages.
pub const FORMATS: &str = "WAV, FLAC, MP3, Ogg Vorbis or Opus, WebM/Matroska Opus, MP4/M4A AAC";

/// symphonia's codecs with libopus added.
static CODECS: LazyLock<CodecRegistry> = LazyLock::new(|| {
    let mut registry = CodecRegistry::new();
    symphonia::default::register_enabled_codecs(&mut registry);
    registry.register_audio_decoder::<OpusDecoder>();
    registry
});

/// Corrupt packets in a row after which a file is given up on: beyond a few
/// damaged frames, this is garbage that merely looked like audio to the probe.
const MAX_BAD_PACKETS_IN_A_ROW: u32 = 64;

/// Decoded audio of one packet.
pub struct Chunk<'a> {
    /// Interleaved frames, nominally in [-1, 1].
    pub samples: &'a [f32],
    pub rate: u32,
    pub channels: u32,
}

/// Packet-by-packet decoder of the default audio track of a file.
pub struct Decoder {
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// The last packet decoded: interleaved samples, rate, channels.
    buf: Vec<f32>,
    rate: u32,
    channels: u32,
    bad_in_a_row: u32,
    /// Corrupt packets skipped so far.
    pub skipped_packets: u64,
    /// The file ended in the middle of a packet (truncated); what came before was decoded.
    pub truncated: bool,
    /// A demuxer or codec panicked: its state is unknown, nothing more is read.
    broken: bool,
}

impl Decoder {
    /// Opens and probes `path`; its extension is only a hint (content decides).
    pub fn open(path: &Path) -> Result<Decoder, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        // A device or pipe (`/dev/zero`) may never end: only files are decoded.
        if !file.metadata().map_err(|e| e.to_string())?.is_file() {
            return Err("not a regular file".into());
        }
        Self::probe(Box::new(file), path.extension().and_then(|e| e.to_str()))
    }

    /// Probes a file held in memory (an upload), by its content alone.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Decoder, String> {
        Self::probe(Box::new(Cursor::new(bytes)), None)
    }

    fn probe(source: Box<dyn MediaSource>, extension: Option<&str>) -> Result<Decoder, String> {
        let mss = MediaSourceStream::new(source, Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = extension {
            hint.with_extension(ext);
        }
        let probed = catch(|| {
            symphonia::default::get_probe().probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
        })
        .map_err(|why| format!("not a valid audio file (the demuxer failed: {why})"))?;
        let reader = probed.map_err(|e| match e {
            SymError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
                "truncated, or too short to be an audio file".to_string()
            }
            SymError::IoError(e) => format!("cannot read: {e}"),
            SymError::Unsupported(_) => format!("not a supported audio file ({FORMATS})"),
            e => format!("not a valid audio file: {e}"),
        })?;
        let (track_id, decoder) = catch(|| open_track(reader.as_ref()))
            .map_err(|why| format!("not a valid audio file (the decoder failed: {why})"))??;
        Ok(Decoder {
            reader,
            decoder,
            track_id,
            buf: Vec::new(),
            rate: 0,
            channels: 0,
            bad_in_a_row: 0,
            skipped_packets: 0,
            truncated: false,
            broken: false,
        })
    }

    /// Decodes the next packet of the track; `None` at the end of the file.
    /// Corrupt packets are skipped (and counted) as players do.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk<'_>>, String> {
        if self.broken {
            return Err("cannot decode: the decoder failed earlier".into());
        }
        match catch(|| self.decode_next()) {
            Ok(Ok(true)) => Ok(Some(Chunk {
                samples: &self.buf,
                rate: self.rate,
                channels: self.channels,
            })),
            Ok(Ok(false)) => Ok(None),
            Ok(Err(e)) => Err(e),
            Err(why) => {
                self.broken = true;
                Err(format!("cannot decode: the decoder failed ({why})"))
            }
        }
    }

    /// Decodes the next packet into `buf`; false at the end of the file.
    fn decode_next(&mut self) -> Result<bool, String> {
        loop {
            let packet = match self.reader.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(false),
                // A chained Ogg stream starts: decode its next link with a fresh decoder.
                Err(SymError::ResetRequired) => {
                    (self.track_id, self.decoder) = open_track(self.reader.as_ref())?;
                    continue;
                }
                Err(SymError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => {
                    self.truncated = true;
                    return Ok(false);
                }
                Err(e) => return Err(format!("cannot demux: {e}")),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(audio) => {
                    self.bad_in_a_row = 0;
                    if audio.frames() == 0 {
                        continue;
                    }
                    self.rate = audio.spec().rate();
                    self.channels = audio.spec().channels().count() as u32;
                    audio.copy_to_vec_interleaved(&mut self.buf);
                    return Ok(true);
                }
                Err(SymError::DecodeError(why)) => {
                    self.skipped_packets += 1;
                    self.bad_in_a_row += 1;
                    if self.bad_in_a_row >= MAX_BAD_PACKETS_IN_A_ROW {
                        return Err(format!(
                            "cannot decode: {} corrupt packets in a row ({why})",
                            self.bad_in_a_row
                        ));
                    }
                }
                Err(e) => return Err(format!("cannot decode: {e}")),
            }
        }
    }
}

/// The default audio track and a decoder for it.
fn open_track(reader: &dyn FormatReader) -> Result<(u32, Box<dyn AudioDecoder>), String> {
    let track = reader
        .default_track(TrackType::Audio)
        .ok_or("no audio track")?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or("no audio track")?;
    let decoder = CODECS
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| format!("unsupported audio codec: {e}"))?;
    Ok((track.id, decoder))
}
