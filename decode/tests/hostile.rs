//! Forged files the fuzzer found: each must come back as an error, never a
//! panic reaching the caller (debug builds check arithmetic overflow, so a
//! forged header can panic inside symphonia's demuxers).

use dfd_decode::Decoder;

/// A 16-bit PCM WAV whose `fmt ` chunk claims `channels` channels.
fn wav_with_channels(channels: u16) -> Vec<u8> {
    let data = [0u8; 64];
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes()); // block align
    b.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    b
}

#[test]
fn a_well_formed_header_decodes() {
    let mut d = Decoder::from_bytes(wav_with_channels(1)).expect("a mono WAV probes");
    let chunk = d.next_chunk().unwrap().expect("one packet");
    assert_eq!(
        (chunk.rate, chunk.channels, chunk.samples.len()),
        (8000, 1, 32)
    );
}

#[test]
fn a_channel_count_that_overflows_the_block_size_is_an_error() {
    // 65281 channels x 2 bytes overflows symphonia's u16 block-align check
    // (the crash cargo-fuzz found in CI, fuzz target cli_decoders).
    let err = Decoder::from_bytes(wav_with_channels(0xFF01))
        .err()
        .expect("65281 channels must be refused");
    assert!(err.contains("not a valid audio file"), "{err}");
}
