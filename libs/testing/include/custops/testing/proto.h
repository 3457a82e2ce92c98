// Protobuf helpers for tests: the bytes two answers are compared by.
//
//   EXPECT_EQ(testing::DeterministicBytes(rebuilt), testing::DeterministicBytes(clean));
#ifndef CUSTOPS_TESTING_PROTO_H_
#define CUSTOPS_TESTING_PROTO_H_

#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"

namespace custops::testing {

// A message's wire bytes with map entries in key order, so that equal
// messages give equal bytes.
inline std::string DeterministicBytes(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace custops::testing

#endif  // CUSTOPS_TESTING_PROTO_H_
