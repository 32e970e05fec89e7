"""supervision: OTP supervisors and ``process.service`` entries."""
