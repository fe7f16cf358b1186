//! Every echo conformance case against every variant, each an in-process server on port 0.

mod support;

echo_cases!(stamp_cases!(serve::App::Echo, echo:));
